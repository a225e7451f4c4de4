/* grain: one row per lead (a live contact not merged away), with owner, team, channel and source.
   Record-level increments (decision D37): contacts with a new version since whose columns read here
   changed (`_contact_hash`, the hash of those columns this row was computed from, decision D42: most
   contact versions only move activity properties), contacts merged or unmerged since, and contacts
   whose lead-sheet row changed; a change of owners or Calendly users (team names, time zones)
   rebuilds the table. */
{{ config(materialized='record_table', record_keys=['lead_id'], record_lead='lead_id',
          record_compare_exclude=['_contact_hash'], record_upstream=['int_contact_merges'],
          record_sources=['stg_hubspot__contacts', 'stg_sheet__leads', 'stg_hubspot__owners', 'stg_calendly__users'],
          record_full_on=['stg_hubspot__owners', 'stg_calendly__users']) }}
{%- set plan = record_plan() %}
with
{%- if plan.incremental %}
sheet_changes as materialized (
    -- a sheet row's key is its lower-cased e-mail: both its hash and the row's e-mail hash
    select sheet_key_hash as email_hash
    from {{ ref('stg_sheet__leads') }} where _loaded_at > {{ record_since(plan.last) }}
    union
    select email_hash
    from {{ ref('stg_sheet__leads') }} where _loaded_at > {{ record_since(plan.last) }}
),

scope as materialized (
    -- contacts loaded since whose read columns differ from those this table's row was computed from
    -- (no row: new or merged away; an archive has a null hash, so an archived contact without a row
    -- stays out)
    select c.contact_id as lead_id
    from {{ ref('stg_hubspot__contacts') }} as c
    left join {{ this }} as t on t.lead_id = c.contact_id
    where c._loaded_at > {{ record_since(plan.last) }}
        and t._contact_hash is distinct from {{ contact_content_hash('c') }}
    union
    select record_key from ({{ record_upstream_changes('int_contact_merges', plan) }}) as m
    union
    select contact_id from {{ ref('stg_hubspot__contacts') }}
    where email_hash in (select email_hash from sheet_changes) and not is_deleted
),
{%- endif %}

{%- if plan.incremental %}

-- the scope's contacts first (materialized: otherwise the anti-join below runs over every contact)
scoped_contacts as materialized (
    select * from {{ ref('stg_hubspot__contacts') }} as c
    where c.contact_id in (select lead_id from scope)
),
{%- endif %}

contacts as {% if plan.incremental %}materialized {% endif %}(
    select * from {{ 'scoped_contacts' if plan.incremental else ref('stg_hubspot__contacts') }} as c
    -- an anti-join (`merged_id` is never null, so this equals `not in`, which plans as a slower mark join)
    where not c.is_deleted and not exists (
        select 1 from {{ ref('int_contact_merges') }} as m where m.merged_id = c.contact_id
    )
),

owners as (
    select * from {{ ref('stg_hubspot__owners') }} where not is_deleted
),

team_timezones as (
    select owners.team_id, min(users.timezone) as timezone
    from owners
    inner join {{ ref('stg_calendly__users') }} as users
        on owners.email_hash = users.email_hash
    where users.timezone is not null and not users.is_deleted
    group by owners.team_id
),

channels as (
    select source_value, channel
    from {{ ref('channel_mapping') }}
    where source_system = 'hubspot_contact'
),

sheet as (
    select email_hash, min(submitted_at) as submitted_at
    from {{ ref('stg_sheet__leads') }}
    where email_hash is not null and not is_deleted
    {%- if plan.incremental %} and email_hash in (select email_hash from contacts){% endif %}
    group by email_hash
),

final as (
    select
        contacts.contact_id as lead_id,
        contacts.created_at,
        contacts.email_hash,
        coalesce(contacts.lead_source, case when sheet.email_hash is not null then 'form' end, 'unknown') as lead_source,
        sheet.email_hash is not null as is_in_lead_sheet,
        sheet.submitted_at as sheet_submitted_at,
        coalesce(channels.channel, 'unknown') as channel,
        contacts.owner_id,
        owners.owner_name,
        coalesce(owners.team_id, 'unassigned') as team_id,
        coalesce(owners.team_name, 'unassigned') as team_name,
        coalesce(team_timezones.timezone, 'UTC') as team_timezone,
        contacts.lifecycle_stage,
        {{ contact_content_hash('contacts') }} as _contact_hash
    from contacts
    left join owners on contacts.owner_id = owners.owner_id
    left join team_timezones on owners.team_id = team_timezones.team_id
    left join channels on contacts.lead_channel = channels.source_value
    left join sheet on contacts.email_hash = sheet.email_hash
)

{{ record_scope_select('final', 'scope', ['lead_id'], plan) }}
