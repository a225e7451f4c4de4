{#- Record-level increments for the lead-resolution tables (decision D37).

    `int_contact_merges`, `int_contact_links`, `int_leads_resolved`, `int_asks`, `int_appointments`
    and `int_deals` use the `record_table` materialization below. A build after a sync recomputes only
    the records whose inputs changed since the table was last built (its *scope*), and every row that
    really changed is written to the change log `_record_changes` (one table per schema, created on
    first use, not a dbt node) with the lead it belonged to before and the lead it belongs to now.
    Downstream record tables and `int_affected_leads` read the log instead of comparing whole tables.

    The log holds, per model:
    - `kind = 'change'`: a record whose row was added, removed or changed (`record_key`, `lead_id`:
      one row for the old and one for the new lead when they differ), stamped with the build's
      `run_started_at` (`changed_at`);
    - `kind = 'done'` / `'full'`: the model finished an incremental / full build at `changed_at`,
      having read its staging inputs up to `loaded_at`, with the inputs' `state` (seeds and vars,
      `inputs_state`) and `as_of`.

    A model recomputes everything (`full`, no change rows) on the first build, on `--full-refresh`,
    when the seeds or vars changed, when `as_of` moved back, when an upstream record table was rebuilt
    in full since, or when one of its `record_full_on` inputs (small dimension tables such as owners)
    changed. A `full` row tells every consumer to recompute everything as well, so a full rebuild
    anywhere spreads down to the lead-grain models.

    The scope CTEs are declared `materialized` (DuckDB and PostgreSQL 12+): they are read by several
    parts of the model, and computing them once halved `int_contact_links` at 1M leads.

    Model contract (incremental run): the model selects, for every key of its scope, either its new
    row or a null row; the columns `_scope_<key>` carry the scope's key and `_gone` is true when the
    record has no row any more (`record_scope_select`). On a full build it selects the plain rows. -#}

{% macro record_log() -%}
{{ return(api.Relation.create(database=this.database, schema=this.schema, identifier='_record_changes', type='table')) }}
{%- endmacro %}

{#- The build's stamp (dbt's `run_started_at`, UTC), as a timestamp literal. -#}
{% macro record_stamp() -%}
cast('{{ run_started_at.strftime("%Y-%m-%d %H:%M:%S.%f") }}' as timestamp)
{%- endmacro %}

{#- Hash of every seed and var that any record table or lead-grain model reads, as a string: a change
    makes all of them recompute everything. -#}
{% macro state_seeds() -%}
{{ return(['ask_ladder', 'ask_ladder_aliases', 'channel_mapping', 'stage_mapping']) }}
{%- endmacro %}

{#- Parse time: record the seeds `inputs_state_sql` reads as dependencies of the calling model. -#}
{% macro inputs_state_dependencies() -%}
{%- for seed in state_seeds() %}{% do ref(seed) %}{% endfor -%}
{%- endmacro %}

{#- SQL (a scalar string expression) for the inputs' state that the plans compare with the logged one:
    the seeds' row hashes and the vars; '' when a seed is not loaded yet (e.g. `dbt compile` on a
    warehouse with raw tables only). -#}
{% macro inputs_state_sql() -%}
{%- set parts = [] -%}
{%- for seed in state_seeds() %}
{%- set rel = ref(seed) -%}
{%- if adapter.get_relation(database=rel.database, schema=rel.schema, identifier=rel.identifier) is none -%}
{{- return("cast('' as varchar)") -}}
{%- endif -%}
{%- do parts.append("select " ~ loop.index ~ " as i, cast(coalesce(sum(" ~ row_hash('s') ~ "), 0) as varchar) as h from " ~ rel ~ " as s") %}
{%- endfor %}
{%- set vars_text = [var('response_window_days'), var('concession_window_days'), var('gap_same_day_hours'),
                     var('gap_within_week_hours'), var('pii_salt', '')] | join('|') -%}
{#- one aggregate over the seeds, not a scalar subquery per seed: DuckDB plans each of those as one
    more cross product, and ordering ten of them cost ~40 ms per plan query (D47) -#}
{{- return("(select " ~ listagg('h', "'|'", 'order by i') ~ " from (" ~ parts | join(" union all ") ~ ") as seed_hashes)"
    ~ " || '|' || '" ~ vars_text ~ "'") -}}
{%- endmacro %}

{#- SQL for `as_of` of this build as a string, '' when the model does not depend on it. -#}
{% macro record_as_of_sql(uses_as_of) -%}
{%- if not uses_as_of -%}{{ return("cast('' as varchar)") }}{%- endif -%}
{%- if not var('as_of', '') -%}
{%- set wm = ref('int_data_watermark') -%}
{%- if adapter.get_relation(database=wm.database, schema=wm.schema, identifier=wm.identifier) is none -%}{{ return("cast('' as varchar)") }}{%- endif -%}
{%- endif -%}
{{- return("coalesce(cast(" ~ as_of_sql() ~ " as varchar), '')") -}}
{%- endmacro %}

{#- Newest `_loaded_at` over the staging models a record table reads (its staging watermark; they keep
    tombstones, so an archive moves it too). -#}
{% macro record_watermark_sql(sources) -%}
select cast(max(m) as varchar) from (
{%- for s in sources %}
    select max(_loaded_at) as m from {{ ref(s) }}{% if not loop.last %} union all{% endif %}
{%- endfor %}
) as w
{%- endmacro %}

{#- Decide how this record table builds now, in one query: {incremental, last, state, as_of,
    watermark}. `last` is the previous run ({kind, changed_at, loaded_at, state, as_of} or none, for
    `loaded_at` / `changed_at`); `incremental` is false for a full build; `state`, `as_of` and
    `watermark` (strings or none) are what this build logs; the watermark is read only
    `for_materialization` (the model's SQL needs none). Creates the change log on first use. -#}
{% macro record_plan(for_materialization=false) -%}
{%- if not execute -%}
{%- do inputs_state_dependencies() -%}
{{ return({'incremental': false, 'last': none}) }}
{%- endif -%}
{%- set uses_as_of = config.get('record_as_of', false) -%}
{%- set log = record_log() -%}
{%- set existing = adapter.get_relation(database=this.database, schema=this.schema, identifier=this.identifier) -%}
{%- set read_last = existing is not none and not should_full_refresh() -%}
{%- if not (read_last or for_materialization) -%}
{#- the model's SQL of a full build needs no more (and `dbt compile` may run before any schema exists) -#}
{{ return({'incremental': false, 'last': none}) }}
{%- endif -%}
{%- set upstream = config.get('record_upstream', []) -%}
{%- set full_on = config.get('record_full_on') or [] -%}
{%- set sql -%}
create table if not exists {{ log }} (
    model varchar, kind varchar, record_key varchar, lead_id varchar,
    changed_at timestamp, loaded_at timestamp with time zone, state varchar, as_of timestamp
);
with last_run as (
    select kind, changed_at, loaded_at, state, as_of from {{ log }}
    where {{ 'true' if read_last else 'false' }} and model = '{{ this.identifier }}' and kind in ('done', 'full')
    order by changed_at desc
    limit 1
)
select
    last_run.kind,
    cast(last_run.changed_at as varchar),
    cast(last_run.loaded_at as varchar),
    last_run.state,
    cast(last_run.as_of as varchar),
    {{ inputs_state_sql() }},
    {{ record_as_of_sql(uses_as_of) }},
    {%- if for_materialization %}
    ({{ record_watermark_sql(config.require('record_sources')) }}),
    {%- else %}
    cast(null as varchar),
    {%- endif %}
    {%- if upstream %}
    (select count(*) from {{ log }} where kind = 'full' and model in ('{{ upstream | join("', '") }}')
        and changed_at > (select changed_at from last_run)),
    {%- else %}
    0,
    {%- endif %}
    {%- if full_on %}
    (select sum(n) from (
        {%- for s in full_on %}
        select count(*) as n from {{ ref(s) }}
        where _loaded_at > coalesce((select loaded_at from last_run), cast('1970-01-01 00:00:00+00' as timestamp with time zone))
        {%- if not loop.last %} union all{% endif %}
        {%- endfor %}
    ) as c)
    {%- else %}
    0
    {%- endif %}
from (select 1 as one) as anchor
left join last_run on true
{%- endset -%}
{%- set row = run_query(sql)[0] -%}
{%- set last = {'kind': row[0], 'changed_at': row[1], 'loaded_at': row[2], 'state': row[3], 'as_of': row[4] or ''} if row[0] is not none else none -%}
{%- set state, as_of, watermark = row[5], row[6], row[7] -%}
{%- set incremental = last is not none and last.state == state
    and not (uses_as_of and last.as_of and as_of < last.as_of)
    and (row[8] or 0) == 0 and (row[9] or 0) == 0 -%}
{{ return({'incremental': incremental, 'last': last, 'state': state, 'as_of': as_of, 'watermark': watermark}) }}
{%- endmacro %}

{#- The previous run's staging watermark as a literal (so the scan can skip older row groups). -#}
{% macro record_since(last) -%}
{%- if last is none or last.loaded_at is none -%}
cast('1970-01-01 00:00:00+00' as timestamp with time zone)
{%- else -%}
cast('{{ last.loaded_at }}' as timestamp with time zone)
{%- endif -%}
{%- endmacro %}

{#- Keys (`key`, as `record_id`) of staging model `model` loaded since the previous run: new versions
    and tombstones (staging keeps them, decision D41). -#}
{% macro record_changed_ids(model, key, plan) -%}
select {{ key }} as record_id from {{ ref(model) }} where _loaded_at > {{ record_since(plan.last) }}
{%- endmacro %}

{#- Change rows (`record_key`, `lead_id`) that `model` logged since this table's previous run. -#}
{% macro record_upstream_changes(model_name, plan) -%}
select record_key, lead_id from {{ record_log() }}
where model = '{{ model_name }}' and kind = 'change'
    and changed_at > cast('{{ plan.last.changed_at }}' as timestamp)
{%- endmacro %}

{#- Final select of a record table: on an incremental run one row per scope key (`scope_cte` has the
    `keys` columns), the record's new row or nulls with `_gone`; otherwise the rows of `final_cte`.
    Every row carries `_built_at`, the stamp of the build that wrote it: the table's tests check the
    rows written since the last complete build (D48); the comparison with the old rows leaves it out. -#}
{% macro record_scope_select(final_cte, scope_cte, keys, plan) -%}
{%- if plan.incremental %}
select
    {{ final_cte }}.*,
    {{ record_stamp() }} as _built_at,
    {%- for k in keys %}
    {{ scope_cte }}.{{ k }} as _scope_{{ k }},
    {%- endfor %}
    {{ final_cte }}.{{ keys[0] }} is null as _gone
from (select distinct {{ keys | join(', ') }} from {{ scope_cte }}) as {{ scope_cte }}
left join {{ final_cte }}
    on {% for k in keys %}{{ final_cte }}.{{ k }} = {{ scope_cte }}.{{ k }}{% if not loop.last %} and {% endif %}{% endfor %}
{%- else %}
select *, {{ record_stamp() }} as _built_at from {{ final_cte }}
{%- endif %}
{%- endmacro %}

{#- `and`-able filter: on an incremental run only rows whose `columns` are a key of `scope_cte`. -#}
{% macro record_in_scope(columns, scope_cte, keys, plan) -%}
{%- if plan.incremental -%}
exists (select 1 from {{ scope_cte }} as s where
    {%- for c in columns %} s.{{ keys[loop.index0] }} = {{ c }}{% if not loop.last %} and{% endif %}{% endfor %})
{%- else -%}
true
{%- endif -%}
{%- endmacro %}


{% materialization record_table, default %}
{%- set target = this.incorporate(type='table') -%}
{%- set existing = load_cached_relation(this) -%}
{%- set log = record_log() -%}
{%- set keys = config.require('record_keys') -%}
{%- set log_key = config.get('record_log_key', keys[0]) -%}
{%- set lead = config.get('record_lead', none) -%}
{%- set exclude = config.get('record_compare_exclude', []) + ['_built_at'] -%}
{%- set plan = record_plan(for_materialization=true) -%}
{%- set state = plan.state -%}
{%- set as_of = plan.as_of -%}
{%- set as_of_sql_value = "cast('" ~ as_of ~ "' as timestamp)" if as_of else 'cast(null as timestamp)' -%}
{%- set watermark = plan.watermark -%}
{%- set watermark_sql = "cast('" ~ watermark ~ "' as timestamp with time zone)" if watermark is not none else "cast(null as timestamp with time zone)" -%}
{%- set tmp = make_temp_relation(target, '__rec') -%}

{{ run_hooks(pre_hooks, inside_transaction=False) }}
{{ run_hooks(pre_hooks, inside_transaction=True) }}

{% if not plan.incremental %}
  {% if existing is not none %}
    {% do adapter.drop_relation(existing) %}
  {% endif %}
  {% call statement('main') -%}
    {{ create_table_as(False, target, sql) }}
  {%- endcall %}
  {% call statement('record_log_full') -%}
    delete from {{ log }} where model = '{{ this.identifier }}';
    insert into {{ log }} (model, kind, changed_at, loaded_at, state, as_of)
    values ('{{ this.identifier }}', 'full', {{ record_stamp() }}, {{ watermark_sql }}, '{{ state }}', {{ as_of_sql_value }})
  {%- endcall %}
{% else %}
  {% call statement('record_scope') -%}
    create temporary table {{ tmp.include(database=false, schema=false) }} as {{ sql }}
  {%- endcall %}
  {%- set columns = adapter.get_columns_in_relation(target) | map(attribute='name') | list -%}
  {#- a model whose columns changed since its table was built: fail with dbt's words for
      `on_schema_change: fail` (the runner adds the mending command) rather than drop a new column
      from the insert below or fail on a column the model no longer selects -#}
  {%- set model_columns = [] -%}
  {%- for column in adapter.get_columns_in_relation(tmp.include(database=false, schema=false)) | map(attribute='name') -%}
    {%- if column != '_gone' and not column.startswith('_scope_') -%}{%- do model_columns.append(column) -%}{%- endif -%}
  {%- endfor -%}
  {%- set added = model_columns | reject('in', columns) | list -%}
  {%- set dropped = columns | reject('in', model_columns) | list -%}
  {%- if added or dropped -%}
    {{ exceptions.raise_compiler_error("The source and target schemas on this incremental model are out of sync! Source columns not in target: " ~ added ~ "; target columns not in source: " ~ dropped) }}
  {%- endif -%}
  {%- set compared = columns | reject('in', exclude) | list -%}
  {%- set tmp_name = tmp.include(database=false, schema=false) -%}
  {%- set in_scope -%}
    exists (select 1 from {{ tmp_name }} as n where
    {%- for k in keys %} n._scope_{{ k }} = t.{{ k }}{% if not loop.last %} and{% endif %}{% endfor %})
  {%- endset -%}
  {%- set old_name = make_temp_relation(target, '__old').include(database=false, schema=false) -%}
  {#- the rows being replaced, read once; on DuckDB with their row ids, so that the delete needs no
      second pass over the table -#}
  {%- set use_rowid = target.type == 'duckdb' -%}
  {% call statement('main') -%}
    create temporary table {{ old_name }} as
    select {% if use_rowid %}t.rowid as _row_id, {% endif %}t.* from {{ target }} as t where {{ in_scope }};
    insert into {{ log }} (model, kind, record_key, lead_id, changed_at)
    select distinct '{{ this.identifier }}', 'change', {{ log_key }}, {{ lead if lead else 'cast(null as varchar)' }},
        {{ record_stamp() }}
    from (
        (select {{ compared | join(', ') }} from {{ old_name }}
         except
         select {{ compared | join(', ') }} from {{ tmp_name }} where not _gone)
        union all
        (select {{ compared | join(', ') }} from {{ tmp_name }} where not _gone
         except
         select {{ compared | join(', ') }} from {{ old_name }})
    ) as changed;
    {%- if use_rowid %}
    delete from {{ target }} where rowid in (select _row_id from {{ old_name }});
    {%- else %}
    delete from {{ target }} as t where {{ in_scope }};
    {%- endif %}
    insert into {{ target }} ({{ columns | join(', ') }})
    select {{ columns | join(', ') }} from {{ tmp_name }} where not _gone;
    insert into {{ log }} (model, kind, changed_at, loaded_at, state, as_of)
    values ('{{ this.identifier }}', 'done', {{ record_stamp() }},
            coalesce({{ watermark_sql }}, {{ record_since(plan.last) }}), '{{ state }}', {{ as_of_sql_value }});
    drop table {{ tmp_name }};
    drop table {{ old_name }}
  {%- endcall %}
{% endif %}

{{ run_hooks(post_hooks, inside_transaction=True) }}
{% do adapter.commit() %}
{{ run_hooks(post_hooks, inside_transaction=False) }}
{{ return({'relations': [target]}) }}
{% endmaterialization %}

{#- How the lead-grain models build now: {all, since}. `since` is the stamp of the last complete build
    (`int_lead_build_state`); `all` when there is none, on `--full-refresh`, when the seeds or vars or
    `as_of` (moved back) differ from that build's, or when one of `inputs` was rebuilt in full since. -#}
{% macro lead_plan(inputs) -%}
{%- if not execute -%}
{%- do inputs_state_dependencies() -%}
{{ return({'all': true, 'since': none}) }}
{%- endif -%}
{%- set rel = existing_relation('int_lead_build_state') -%}
{%- if rel is none or flags.FULL_REFRESH -%}{{ return({'all': true, 'since': none}) }}{%- endif -%}
{%- set rows = run_query(
    "select cast(b.completed_at as varchar), b.inputs_state, cast(b.as_of as varchar), "
    ~ inputs_state_sql() ~ ", " ~ record_as_of_sql(true) ~ ", "
    ~ "(select count(*) from " ~ record_log() ~ " where kind = 'full' and changed_at > b.completed_at"
    ~ " and model in ('" ~ inputs | join("', '") ~ "')) from " ~ rel ~ " as b") -%}
{%- if rows | length == 0 -%}{{ return({'all': true, 'since': none}) }}{%- endif -%}
{%- set since, state, as_of = rows[0][0], rows[0][1], rows[0][2] or '' -%}
{%- set all = state != rows[0][3] or (as_of and rows[0][4] < as_of) or rows[0][5] > 0 -%}
{{ return({'all': all, 'since': since}) }}
{%- endmacro %}

{#- Post-hook of `int_lead_build_state`: drop log rows older than the last run of every record table
    (each has read them; the lead-grain models have read everything up to this complete build). -#}
{% macro record_log_prune() -%}
delete from {{ record_log() }}
where changed_at < (
    select min(last_run) from (
        select max(changed_at) as last_run from {{ record_log() }} where kind in ('done', 'full') group by model
    ) as runs
)
{%- endmacro %}
