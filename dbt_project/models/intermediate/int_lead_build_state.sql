/* grain: one row: the last complete build (its stamp, the seeds-and-vars state and `as_of` it used).
   Written last, after the lead-grain marts and their tests passed, so that a failed build leaves the
   previous stamp and the next build recomputes the leads of both (`int_affected_leads`). Also prunes
   the change log (`_record_changes`) of rows every consumer has read. */
-- depends_on: {{ ref('leads') }}
-- depends_on: {{ ref('asks') }}
-- depends_on: {{ ref('appointments') }}
-- depends_on: {{ ref('concession_sequences') }}
-- depends_on: {{ ref('int_affected_leads') }}
-- depends_on: {{ ref('int_data_watermark') }}
{{ config(materialized='table', post_hook="{{ record_log_prune() }}") }}
{%- if not execute %}{% do inputs_state_dependencies() %}{% endif %}
{%- set row = run_query("select " ~ inputs_state_sql() ~ ", " ~ record_as_of_sql(true))[0] if execute else ['', ''] %}
{%- set state, as_of = row[0], row[1] %}
{#- the staging and record tables' key tests check rows written after `checks_at` (D48): it moves only
    when this build ran every one of them (they passed: a failed test skips this model), else the
    previous build's values are kept -#}
{%- set checks = built_checks() if execute else {'complete': false} %}
{%- set kept = last_checks() if execute and not checks.complete else {'at': none, 'state': none} %}
select
    {{ record_stamp() }} as completed_at,
    cast('{{ state }}' as varchar) as inputs_state,
    {{ "cast('" ~ as_of ~ "' as timestamp)" if as_of else 'cast(null as timestamp)' }} as as_of,
    {%- if checks.complete %}
    {{ record_stamp() }} as checks_at,
    cast('{{ checks.state }}' as varchar) as checks_state
    {%- else %}
    {{ "cast('" ~ kept.at ~ "' as timestamp)" if kept.at else 'cast(null as timestamp)' }} as checks_at,
    {{ "cast('" ~ kept.state ~ "' as varchar)" if kept.state else 'cast(null as varchar)' }} as checks_state
    {%- endif %}
