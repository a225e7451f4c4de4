"""Transform: run the dbt project (`runner.build`) and show its marts in the terminal (`show`)."""
