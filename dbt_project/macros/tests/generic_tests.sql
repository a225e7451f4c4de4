{#- Generic data tests used across the marts (written here, no dbt packages needed offline). -#}

{#- Fails on every row where `expression` is not true (null counts as a failure unless `where` excludes it). -#}
{% test expression_is_true(model, expression, where=none) %}
select * from {{ model }}
where not coalesce(({{ expression }}), false)
{%- if where %} and ({{ where }}){% endif %}
{% endtest %}

{#- Fails where a non-null column value lies outside [min_value, max_value]. -#}
{% test between(model, column_name, min_value, max_value) %}
select * from {{ model }}
where {{ column_name }} is not null
  and ({{ column_name }} < {{ min_value }} or {{ column_name }} > {{ max_value }})
{% endtest %}

{#- Fails on rows where a later column in `column_names` is larger than an earlier one
    (for funnels: counts may only shrink stage over stage). -#}
{% test never_increasing(model, column_names) %}
select * from {{ model }}
where false
{%- for i in range(1, column_names | length) %}
   or coalesce({{ column_names[i] }}, 0) > coalesce({{ column_names[i - 1] }}, 0)
{%- endfor %}
{% endtest %}

{#- Fails where a non-null estimate lies outside its non-null [low, high] interval. -#}
{% test interval_contains(model, column_name, low, high) %}
select * from {{ model }}
where {{ column_name }} is not null
  and ({{ low }} is null or {{ high }} is null
       or {{ column_name }} < {{ low }} - 1e-12 or {{ column_name }} > {{ high }} + 1e-12)
{% endtest %}

{#- A key column: fails on every null and on every value held by more than one row (dbt's `not_null`
    and `unique` in one scan and one node). -#}
{% test not_null_unique(model, column_name, built=false) %}
{%- set since = built_since_last_complete_build() if built else none %}
{%- if since %}
{#- only the keys written since the last complete build, each counted over the whole table -#}
with changed_rows as materialized (
    select {{ column_name }} from {{ model }} where {{ since }}
)
select {{ column_name }} as key_value, 0 as n_rows from changed_rows where {{ column_name }} is null
union all
select {{ column_name }} as key_value, count(*) as n_rows
from {{ model }}
where {{ column_name }} in (select {{ column_name }} from changed_rows)
group by {{ column_name }}
having count(*) > 1
{%- else %}
select {{ column_name }} as key_value, count(*) as n_rows
from {{ model }}
group by {{ column_name }}
having {{ column_name }} is null or count(*) > 1
{%- endif %}
{% endtest %}

{#- `and`-able predicate for a test of an incremental table with `_built_at` (the large staging tables
    and the record tables, D48): the rows written since the last build whose `built` tests all ran
    and passed (`int_lead_build_state.checks_at`), as a literal so that DuckDB reads them from the
    table's tail. The rows before were all checked then, and these tables change only by deleting
    rows and inserting new ones, so checking the new rows (a key: its count over the whole table) is
    checking the table. `checks_at` moves only in a `dbt build` that ran every `built` test (so not in
    a `dbt run` or a build of a selection; a failed test skips the state table) and the definitions
    of those tests must be the ones it ran (`checks_state`): a new or changed test checks whole
    tables once. None (check everything) outside `dbt build` (a `dbt test` checks whole tables, edits
    made by hand included), before the first such build, on `--full-refresh`, or when the state table
    is not there. -#}
{% macro built_since_last_complete_build() -%}
{%- if not execute or flags.FULL_REFRESH or flags.WHICH != 'build' -%}{{ return(none) }}{%- endif -%}
{%- set last = last_checks() -%}
{%- if last.at is none or last.state != built_checks().state -%}{{ return(none) }}{%- endif -%}
{{ return("_built_at > cast('" ~ last.at ~ "' as timestamp)") }}
{%- endmacro %}

{#- `checks_at` and `checks_state` as `int_lead_build_state` holds them ({at, state}, strings or
    none): none before the first build or in a state table from before D48. The table is located
    through dbt's graph, not `ref`: a test depending on it would run after it. -#}
{% macro last_checks() -%}
{%- set node = graph.nodes.get('model.' ~ project_name ~ '.int_lead_build_state') -%}
{%- set rel = adapter.get_relation(database=node.database, schema=node.schema, identifier=node.alias)
    if node is not none else none -%}
{%- if rel is none or 'checks_at' not in adapter.get_columns_in_relation(rel) | map(attribute='name') | list -%}
{{ return({'at': none, 'state': none}) }}
{%- endif -%}
{%- set rows = run_query("select cast(max(checks_at) as varchar), max(checks_state) from " ~ rel).rows -%}
{{ return({'at': rows[0][0], 'state': rows[0][1]} if rows else {'at': none, 'state': none}) }}
{%- endmacro %}

{#- The project's `built` tests (from dbt's graph): {state: a hash of their definitions, complete:
    whether this invocation is a `dbt build` that runs every one of them}. `int_lead_build_state`
    stores both; `built_since_last_complete_build` compares the state. -#}
{% macro built_checks() -%}
{%- set defs = [] -%}
{%- set ids = [] -%}
{%- for uid, node in graph.nodes.items() | sort -%}
  {%- set meta = node.get('test_metadata') or {} -%}
  {%- if node.resource_type == 'test' and (meta.get('kwargs') or {}).get('built') -%}
    {%- do ids.append(uid) -%}
    {%- do defs.append([uid, meta.get('name'), meta.get('kwargs'), node.config.get('where')]) -%}
  {%- endif -%}
{%- endfor -%}
{%- set ran_all = flags.WHICH == 'build' and ids | reject('in', selected_resources) | list | length == 0 -%}
{{ return({'state': local_md5(tojson(defs, sort_keys=true)), 'complete': ran_all and ids | length > 0}) }}
{%- endmacro %}

{#- Several row checks of one model in one test node: dbt spends 30-60 ms of its own on every node,
    and in `dbt build` the models downstream wait for all of them (decision D33). Fails with one row
    per violation, naming the check (`failed_check`) and the offending value (`detail`):
    - `keys`: column names (or expressions), or a list of columns for a composite key; a null (in
      any part), or a value held by more than one row (`not_null_unique`);
    - `unique`: column names; a non-null value held by more than one row (dbt's `unique`);
    - `accepted`: `{column, values}`; a non-null value not in `values` (dbt's `accepted_values`);
    - `expressions`: `{expression, where}`; a row (matching `where`) where the expression is not true
      (null counts as a failure, as in `expression_is_true`);
    - `relationships`: `{column, to, field, to_where}`; a non-null value of `column` missing from `field`
      of `to` (written `ref('model')` as for dbt's `relationships`, so that dbt records the dependency
      when it parses the arguments, also under partial parsing), among the rows of `to` matching the
      optional `to_where` (e.g. `not is_deleted` for a staging table that keeps tombstones).
    - `built: true` (a table with `_built_at`: staging, record and lead-grain tables, D48): in `dbt
      build`, check only the rows written since the last build that ran every such test and passed
      (`built_since_last_complete_build`); a key or unique value is still counted over the whole
      table, but only for the values those rows hold. Equivalent to checking everything: those
      tests passed on the whole table then, and since then these tables were only changed by
      deleting rows and appending new ones, so any new duplicate or bad value involves a new row.
      Relationships are checked for every row (a parent can disappear under an unchanged child)
      unless `same_lead: true`:
    - `same_lead: true` (the lead-grain models, D39): every relationship joins rows of the same lead
      (or a seed, whose change recomputes every lead), and a lead-grain model rewrites all rows of a
      lead whose data changed, so a missing parent involves a new child row: relationships are
      checked for the new rows only, the parents looked up among the keys they name. -#}
{% test row_checks(model, keys=[], unique=[], accepted=[], expressions=[], relationships=[], built=false, same_lead=false) %}
{%- set since = built_since_last_complete_build() if built else none %}
{%- set scoped = since is not none %}
{%- if scoped %}
{#- the checked rows are read once (a materialized CTE), not once per check -#}
{%- set rows = "changed_rows" %}
{%- else %}
{%- set rows = model %}
{%- endif %}
{%- set parts = [] -%}
{%- for key in keys %}
{#- a key is a column (or expression), or a list of columns for a composite key -#}
{%- set cols = [key] if key is string else key %}
{%- set label = "key " ~ (cols | join(', ') | replace("'", "''")) %}
{%- set grouped = cols | join(', ') %}
{%- set tuple = ("(" ~ grouped ~ ")") if cols | length > 1 else grouped %}
{%- set texts = [] %}{%- set nulls = [] %}
{%- for c in cols %}{% do texts.append("coalesce(cast(" ~ c ~ " as varchar), 'null')") %}{% do nulls.append(c ~ " is null") %}{% endfor %}
{%- set detail = texts | join(" || ', ' || ") %}
{%- set any_null = nulls | join(' or ') %}
{%- if scoped %}
{%- do parts.append(
    "select '" ~ label ~ "' as failed_check, " ~ detail ~ " as detail\n"
    ~ "from " ~ rows ~ " where " ~ any_null ~ "\nunion all\n"
    ~ "select '" ~ label ~ "' as failed_check, " ~ detail ~ " as detail\n"
    ~ "from " ~ model ~ " where " ~ tuple ~ " in (select " ~ grouped ~ " from " ~ rows ~ ")"
    ~ " group by " ~ grouped ~ " having count(*) > 1") %}
{%- else %}
{%- do parts.append(
    "select '" ~ label ~ "' as failed_check, " ~ detail ~ " as detail\n"
    ~ "from " ~ model ~ " group by " ~ grouped ~ " having " ~ any_null ~ " or count(*) > 1") %}
{%- endif %}
{%- endfor %}
{%- for column in unique %}
{%- do parts.append(
    "select 'unique " ~ (column | replace("'", "''")) ~ "' as failed_check, cast(" ~ column ~ " as varchar) as detail\n"
    ~ "from " ~ model ~ " where " ~ column ~ " is not null"
    ~ (" and " ~ column ~ " in (select " ~ column ~ " from " ~ rows ~ ")" if scoped else "")
    ~ " group by " ~ column ~ " having count(*) > 1") %}
{%- endfor %}
{%- for check in accepted %}
{%- set quoted = [] %}
{%- for value in check['values'] %}{% do quoted.append("'" ~ value ~ "'") %}{% endfor %}
{%- do parts.append(
    "select 'accepted " ~ check.column ~ "' as failed_check, cast(" ~ check.column ~ " as varchar) as detail\n"
    ~ "from " ~ rows ~ " where " ~ check.column ~ " is not null and " ~ check.column
    ~ " not in (" ~ quoted | join(', ') ~ ")") %}
{%- endfor %}
{%- for check in expressions %}
{%- do parts.append(
    "select 'expression " ~ (check.expression | replace("'", "''")) ~ "' as failed_check, cast(null as varchar) as detail\n"
    ~ "from " ~ rows ~ " where not coalesce((" ~ check.expression ~ "), false)"
    ~ (" and (" ~ check.where ~ ")" if check.where else "")) %}
{%- endfor %}
{%- for check in relationships %}
{%- set parent = check.to %}
{%- set parent_table = ("(select * from " ~ parent ~ " where " ~ check.to_where ~ ")") if check.to_where else parent %}
{%- set rows_scoped = scoped and same_lead %}
{%- set child_rows = "changed_rows" if rows_scoped else "(select * from " ~ model ~ ")" %}
{#- scoped: only the parent keys the checked rows name are looked up (no hash table over the whole parent) -#}
{%- set parent_rows = ("(select " ~ check.field ~ " from " ~ parent_table ~ " as p where " ~ check.field ~ " in (select "
    ~ check.column ~ " from " ~ child_rows ~ " as c))") if rows_scoped else parent_table %}
{%- do parts.append(
    "select 'relationship " ~ check.column ~ " -> " ~ parent.identifier ~ "." ~ check.field ~ "' as failed_check,"
    ~ " cast(child." ~ check.column ~ " as varchar) as detail\n"
    ~ "from " ~ child_rows ~ " as child left join " ~ parent_rows ~ " as parent on child." ~ check.column
    ~ " = parent." ~ check.field ~ "\nwhere child." ~ check.column ~ " is not null and parent." ~ check.field ~ " is null") %}
{%- endfor %}
{%- if since %}
with changed_rows as materialized (
    select * from {{ model }} where {{ since }}
)
{%- endif %}
{{ parts | join('\nunion all\n') }}
{% endtest %}
