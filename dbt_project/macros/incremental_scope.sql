{#- Incremental builds (docs/analyst-guide.md, "How a build after a sync stays small").

    Staging tables rank only the raw rows loaded since the newest `_loaded_at` they hold against their
    own rows, parse the winners and replace those records (delete+insert on the record key), keeping
    tombstones (`latest_versions`, decision D41).

    Lead-grain models recompute only the leads listed in `int_affected_leads` (a lead whose input rows
    changed since the last complete build, from the record tables' change log): a pre-hook deletes every row of
    those leads (`delete_affected_leads`), the model selects only their rows (`affected_leads_only`) and
    dbt appends them (strategy `append`: after the delete no key of theirs is left to match, so a
    `merge` would only pay for a join against the whole table; a row that moved to another lead
    is logged with both leads, so both are deleted and recomputed, and the models' unique-key
    tests would catch a duplicate). On `--full-refresh` (or the first build) everything is built. -#}

{#- The newest `_loaded_at` in `relation` (default: this model's table) as a timestamp literal, read
    when the model runs. A literal (not a scalar subquery) lets DuckDB push `_loaded_at > literal`
    into the table scan: row groups below it are skipped by their min/max, and the wide `payload`
    column is fetched only for the rows that pass. An empty table gives the epoch (read everything).
    At parse time (nothing executes) the subquery form stands in; it is never run. -#}
{% macro loaded_at_watermark(relation=none) -%}
{%- set rel = relation if relation is not none else this -%}
{%- if execute -%}
{%- set rows = run_query("select cast(max(_loaded_at) as varchar) from " ~ rel).rows -%}
{%- set value = rows[0][0] if rows and rows[0][0] is not none else '1970-01-01 00:00:00+00' -%}
cast('{{ value }}' as timestamp with time zone)
{%- else -%}
(select coalesce(max(_loaded_at), cast('1970-01-01 00:00:00+00' as timestamp with time zone)) from {{ rel }})
{%- endif -%}
{%- endmacro %}

{#- Pre-hook of a lead-grain model: remove every row of the affected leads (they are selected again). -#}
{% macro delete_affected_leads() -%}
{%- if is_incremental() -%}
delete from {{ this }}
where lead_id in (select lead_id from {{ ref('int_affected_leads') }})
{%- endif -%}
{%- endmacro %}

{#- `and`-able predicate restricting `column` to the affected leads on an incremental run (true otherwise).
    The ref is outside the `if` so that dbt records the dependency at parse time. -#}
{% macro affected_leads_only(column) -%}
{%- set scope = ref('int_affected_leads') -%}
{%- if is_incremental() -%}
{{ column }} in (select lead_id from {{ scope }})
{%- else -%}
true
{%- endif -%}
{%- endmacro %}

{#- The leads a lead-grain model builds, with their attributes (the columns of `int_leads_resolved`):
    on an incremental run the affected leads that are still leads (`int_affected_leads` carries their
    row, D48), so that the model joins these few rows instead of scanning `int_leads_resolved`; on a
    full build of the model (first build, `--full-refresh`, also of the model alone) every lead. Both
    refs are outside the `if` so that dbt records the dependencies at parse time. -#}
{% macro lead_attributes() -%}
{%- set affected = ref('int_affected_leads') -%}
{%- set resolved = ref('int_leads_resolved') -%}
{%- if is_incremental() -%}
(select * from {{ affected }} where is_lead)
{%- else -%}
{{ resolved }}
{%- endif -%}
{%- endmacro %}

{#- `and`-able predicate reading a lead-grain parent (`model_name`, a table with `_built_at`) from an
    incremental lead-grain model: only the rows of the affected leads (true otherwise). When the parent
    was rebuilt earlier in this invocation, those rows are the ones it appended in this build: the
    test `_built_at` = this build's stamp lets DuckDB skip every older row group by its min/max, so
    the rows come from the table's tail instead of a scan of all of it (decision D48). -#}
{% macro affected_rows_of(model_name, column='lead_id') -%}
{%- if is_incremental() and built_in_this_invocation(model_name) %}_built_at = {{ record_stamp() }} and {% endif -%}
{{ affected_leads_only(column) }}
{%- endmacro %}

{#- Whether model `model_name` of this project runs in this invocation before its children
    (`dbt build` or `dbt run` with the model selected): then every row it wrote in this build carries
    this build's stamp in `_built_at`. A child or test run without it reads the table as it is. -#}
{% macro built_in_this_invocation(model_name) -%}
{{ return(execute and flags.WHICH in ('build', 'run')
          and ('model.' ~ project_name ~ '.' ~ model_name) in selected_resources) }}
{%- endmacro %}

{#- Hash of a whole row (`alias` is a table alias in the FROM clause), as a 64-bit integer. -#}
{% macro row_hash(alias) -%}
{{ return(adapter.dispatch('row_hash', 'leadflow')(alias)) }}
{%- endmacro %}
{% macro default__row_hash(alias) -%}
hash({{ alias }})
{%- endmacro %}
{% macro postgres__row_hash(alias) -%}
hashtextextended(cast({{ alias }} as text), 0)
{%- endmacro %}

{#- Hash of a list of SQL expressions as a 64-bit integer (a null and an empty string differ). -#}
{% macro values_hash(exprs) -%}
{{ return(adapter.dispatch('values_hash', 'leadflow')(exprs)) }}
{%- endmacro %}
{% macro default__values_hash(exprs) -%}
hash({{ exprs | join(', ') }})
{%- endmacro %}
{% macro postgres__values_hash(exprs) -%}
hashtextextended(cast(row({{ exprs | join(', ') }}) as text), 0)
{%- endmacro %}

{#- A relation of this project in the schema of the calling model, if it exists (previous-build state). -#}
{% macro existing_relation(identifier) -%}
{{ return(adapter.get_relation(database=this.database, schema=this.schema, identifier=identifier)) }}
{%- endmacro %}
