/* grain: one row per lead (and one `__config__` row): its input fingerprint now, and whether the
   lead-grain models must recompute it in this build.

   A lead's fingerprint sums a hash of every row it owns in the four lead inputs (`int_leads_resolved`
   without its `_loaded_at`, `int_asks`, `int_appointments`, `int_deals`); those rows carry the lead's
   response and appointment states at `as_of`, so time alone (pending -> no_response, scheduled ->
   held) also changes it. A lead is affected when its fingerprint differs from the one stored by the last complete build
   (`int_lead_fingerprints`), when it disappeared (archived, merged away), when the seeds or vars the
   lead models read changed (`__config__`), or when a previous build flagged it and did not complete. */
{{ config(materialized='table') }}
{%- set previous = existing_relation('int_lead_fingerprints') -%}
{%- set previous_scope = existing_relation(this.identifier) if not flags.FULL_REFRESH else none %}
with row_hashes as (
    -- every column but `_loaded_at`: a contact version that changes nothing the lead models read (an
    -- analytics or activity property, decision D34) leaves the lead as it is
    select lead_id, {{ row_hash('r') }} as row_hash
    from (
        select
            lead_id, created_at, email_hash, lead_source, is_in_lead_sheet, sheet_submitted_at, channel,
            owner_id, owner_name, team_id, team_name, team_timezone, lifecycle_stage
        from {{ ref('int_leads_resolved') }}
    ) as r
    union all
    select lead_id, {{ row_hash('a') }} from {{ ref('int_asks') }} as a where lead_id is not null
    union all
    select lead_id, {{ row_hash('p') }} from {{ ref('int_appointments') }} as p where lead_id is not null
    union all
    select lead_id, {{ row_hash('d') }} from {{ ref('int_deals') }} as d where lead_id is not null
    union all
    -- global inputs of the lead-grain models: the ladder's top level, the stage mapping, the windows
    select '__config__', {{ row_hash('l') }} from {{ ref('ask_ladder') }} as l
    union all
    select '__config__', {{ row_hash('s') }} from {{ ref('stage_mapping') }} as s
    union all
    select '__config__', {{ row_hash('v') }}
    from (
        select
            cast({{ var('concession_window_days') }} as varchar) as concession_window_days,
            cast({{ var('gap_same_day_hours') }} as varchar) as gap_same_day_hours,
            cast({{ var('gap_within_week_hours') }} as varchar) as gap_within_week_hours
    ) as v
),

current_state as (
    select lead_id, sum(row_hash) as fingerprint, count(*) as n_rows
    from row_hashes
    group by lead_id
),

{%- if previous is not none and not flags.FULL_REFRESH %}

previous_state as (
    select lead_id, fingerprint, n_rows from {{ previous }}
),

config_changed as (
    select count(*) > 0 as changed
    from current_state
    full outer join previous_state on current_state.lead_id = previous_state.lead_id
    where coalesce(current_state.lead_id, previous_state.lead_id) = '__config__'
        and (current_state.fingerprint is distinct from previous_state.fingerprint
             or current_state.n_rows is distinct from previous_state.n_rows)
),

unfinished as (
    {%- if previous_scope is not none %}
    -- leads a previous build flagged but did not complete (its fingerprints were never stored)
    select lead_id from {{ previous_scope }}
    where is_affected
        and invocation_id not in (select invocation_id from {{ previous }})
    {%- else %}
    select cast(null as varchar) as lead_id where false
    {%- endif %}
),

compared as (
    select
        coalesce(current_state.lead_id, previous_state.lead_id) as lead_id,
        current_state.fingerprint,
        current_state.n_rows,
        (
            current_state.fingerprint is distinct from previous_state.fingerprint
            or current_state.n_rows is distinct from previous_state.n_rows
            or (select changed from config_changed)
            or coalesce(current_state.lead_id, previous_state.lead_id) in (select lead_id from unfinished)
        ) as is_affected
    from current_state
    full outer join previous_state on current_state.lead_id = previous_state.lead_id
)

{%- else %}

compared as (
    select lead_id, fingerprint, n_rows, true as is_affected from current_state
)

{%- endif %}

select
    cast(lead_id as varchar) as lead_id,
    fingerprint,
    n_rows,
    is_affected,
    cast('{{ invocation_id }}' as varchar) as invocation_id
from compared
