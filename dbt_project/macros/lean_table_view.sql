{#- The project's `table` and `view` materializations on DuckDB (decision D45): the same result as
    dbt-duckdb's, in one statement per node instead of seven to ten.

    dbt-duckdb builds a table as a temporary relation, then looks up foreign keys and indexes in the
    catalog, renames the old table to a backup, renames the new one into place and drops the backup:
    each a statement with dbt's per-statement work around it, for a node that is rebuilt on every
    build (the aggregate marts, the build-state tables, the small staging views). Here, inside the
    model's transaction, the old relation is dropped and the new one created (`create_table_as`, so
    contracts and their constraints apply as before) in one round trip; DuckDB readers keep seeing the
    old table until the commit. A view is `create or replace view`. Not supported here, as the
    project does not use them: grants, `persist_docs`, indexes, foreign keys, Python models. Other
    adapters (PostgreSQL) keep dbt's own materializations. -#}
{#- The frame the project's DuckDB materializations share (`table`, `view`, `incremental`): pre-hooks
    outside then inside the model's transaction, the caller's block as the `main` statement (rendered
    there, after the hooks, so whatever it does first, such as dropping a relation, happens in that
    order), post-hooks inside, commit, post-hooks outside. Used as
    `{% call lean_main_statement() %} <sql> {% endcall %}`; the materialization returns its relations. -#}
{% macro lean_main_statement() -%}
{%- set main_sql = caller -%}
{{ run_hooks(pre_hooks, inside_transaction=False) }}
{{ run_hooks(pre_hooks, inside_transaction=True) }}
{% call statement('main') -%}
{{ main_sql() }}
{%- endcall %}
{{ run_hooks(post_hooks, inside_transaction=True) }}
{% do adapter.commit() %}
{{ run_hooks(post_hooks, inside_transaction=False) }}
{%- endmacro %}

{% materialization table, adapter='duckdb' %}
{%- set target = this.incorporate(type='table') -%}
{%- set existing = load_cached_relation(this) -%}
{% call lean_main_statement() -%}
  {%- if existing is not none and not existing.is_table %}
    {%- do adapter.drop_relation(existing) %}
  {%- endif %}
  {%- if existing is not none and existing.is_table %}
    drop table if exists {{ existing }};
  {%- endif %}
  {{ create_table_as(False, target, sql) }}
{%- endcall %}
{{ return({'relations': [target]}) }}
{% endmaterialization %}

{% materialization view, adapter='duckdb' %}
{%- set target = this.incorporate(type='view') -%}
{%- set existing = load_cached_relation(this) -%}
{% call lean_main_statement() -%}
  {%- if existing is not none and not existing.is_view %}
    {%- do adapter.drop_relation(existing) %}
  {%- endif %}
  {%- if config.get('contract').enforced %}
    {{- get_assert_columns_equivalent(sql) }}
  {%- endif %}
  create or replace view {{ target }} as (
{{ sql }}
  )
{%- endcall %}
{{ return({'relations': [target]}) }}
{% endmaterialization %}
