{#- Test scoping for the lead-grain incremental marts (docs/analyst-guide.md, "Tests in an
    incremental build").

    A data test configured with `where: "__affected_leads__"` checks only the rows of the leads this
    build rewrote (`int_affected_leads.is_affected`). That is used only for row-level tests (not_null,
    accepted_values, between, expression_is_true over one row's columns) on `leads`, `asks`,
    `appointments` and `concession_sequences`, where the argument holds: each of these models deletes
    every row of an affected lead and writes the lead's rows again, and leaves all other rows untouched;
    an untouched row was written by an earlier build in which its lead was affected, so the same test
    passed on it then, or that build failed before `int_lead_fingerprints` was stored and the lead is
    flagged again (`unfinished` in `int_affected_leads`). On `--full-refresh` and on a first build
    every lead is affected, so the test sees the whole table. `unique` and `relationships` tests
    compare rows with other rows and are never scoped.

    Overrides dbt's `default__get_where_subquery` (dbt-core `where_subquery.sql`): any other `where`
    is applied unchanged. -#}
{% macro default__get_where_subquery(relation) -%}
    {%- set where = config.get('where', '') -%}
    {%- if where and '__affected_leads__' in where and not execute -%}
        {%- do return(relation) -%}  {#- parsing: nothing runs, the graph is not complete yet -#}
    {%- elif where and '__affected_leads__' in where -%}
        {%- set scope = leadflow_affected_leads_relation() -%}
        {%- set where = where | replace(
            '__affected_leads__', 'lead_id in (select lead_id from ' ~ scope ~ ' where is_affected)') -%}
    {%- endif -%}
    {%- if where -%}
        {%- do return('(select * from ' ~ relation ~ ' where ' ~ where ~ ') dbt_subquery') -%}
    {%- else -%}
        {%- do return(relation) -%}
    {%- endif -%}
{%- endmacro %}

{#- The relation of `int_affected_leads` (from the graph: a test may not `ref` a model it does not
    depend on; the tested marts all depend on it). -#}
{% macro leadflow_affected_leads_relation() -%}
    {%- for node in graph.nodes.values()
        if node.resource_type == 'model' and node.package_name == 'leadflow' and node.name == 'int_affected_leads' -%}
        {%- do return(api.Relation.create(database=node.database, schema=node.schema, identifier=node.alias)) -%}
    {%- endfor -%}
    {%- do exceptions.raise_compiler_error('int_affected_leads is not in the project graph') -%}
{%- endmacro %}
