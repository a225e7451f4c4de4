/* grain: one row per lead the lead-grain models must recompute in this build, with the lead's attributes.

   A lead is affected when a row it owns (or owned) in one of the four lead inputs (`int_leads_resolved`,
   `int_asks`, `int_appointments`, `int_deals`) changed since the last complete build: the record tables
   log every row that really changed, with its old and new lead (`_record_changes`, decision D37), so
   this reads the log instead of the tables. Everything is affected on the first build, on
   `--full-refresh`, when the seeds or vars changed, when `as_of` moved back, or when one of the four
   inputs was rebuilt in full since. A build that fails before `int_lead_build_state` is written leaves
   the previous build's stamp in place, so the next build recomputes its leads too.

   The lead's row of `int_leads_resolved` comes along (`is_lead` false: the lead is gone, merged away
   or archived, and its rows are only deleted): the lead-grain models join these few rows instead of
   each scanning `int_leads_resolved` for them (decision D48). */
-- depends_on: {{ ref('int_data_watermark') }}
{{ config(materialized='table') }}
{%- set inputs = ['int_leads_resolved', 'int_asks', 'int_appointments', 'int_deals'] %}
{%- set plan = lead_plan(inputs) %}
{%- if plan.all %}
{%- set previous = [] %}
{%- for name in ['int_lead_journey', 'int_asks_sequenced', 'int_appointments_attributed'] %}
{%- set rel = existing_relation(name) if not flags.FULL_REFRESH else none %}
{%- if rel is not none %}{% do previous.append(rel) %}{% endif %}
{%- endfor %}
with leads as (
    select lead_id from {{ ref('int_leads_resolved') }}
    union
    select lead_id from {{ ref('int_asks') }} where lead_id is not null
    union
    select lead_id from {{ ref('int_appointments') }} where lead_id is not null
    union
    select lead_id from {{ ref('int_deals') }} where lead_id is not null
    {%- for rel in previous %}
    union
    -- leads the lead-grain models hold from before (they may have disappeared since)
    select lead_id from {{ rel }}
    {%- endfor %}
)
{%- else %}
with leads as (
    select distinct lead_id from {{ record_log() }}
    where kind = 'change' and lead_id is not null
        and model in ('{{ inputs | join("', '") }}')
        and changed_at > cast('{{ plan.since }}' as timestamp)
)
{%- endif %}

select
    cast(affected.lead_id as varchar) as lead_id,
    resolved.lead_id is not null as is_lead,
    resolved.created_at,
    resolved.email_hash,
    resolved.lead_source,
    resolved.is_in_lead_sheet,
    resolved.channel,
    resolved.owner_id,
    resolved.owner_name,
    resolved.team_id,
    resolved.team_name,
    resolved.team_timezone
from leads as affected
left join {{ ref('int_leads_resolved') }} as resolved on resolved.lead_id = affected.lead_id
