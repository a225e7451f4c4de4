/* grain: one row per lead (a live contact not merged away), with owner, team, channel and source.
   Record-level increments (decision D37): contacts with a new version since, contacts merged or
   unmerged since, and contacts whose lead-sheet row changed; a change of owners or Calendly users
   (team names, time zones) rebuilds the table. `_loaded_at` alone changing is not logged as a change
   (decision D34: the lead models do not read it). */
-- depends_on: {{ ref('base_hubspot__contacts') }}
-- depends_on: {{ ref('base_sheet__leads') }}
-- depends_on: {{ ref('base_hubspot__owners') }}
-- depends_on: {{ ref('base_calendly__users') }}
{{ config(materialized='record_table', record_keys=['lead_id'], record_lead='lead_id',
          record_compare_exclude=['_loaded_at'], record_upstream=['int_contact_merges'],
          record_sources=['base_hubspot__contacts', 'base_sheet__leads', 'base_hubspot__owners', 'base_calendly__users'],
          record_full_on=['base_hubspot__owners', 'base_calendly__users']) }}
{%- set plan = record_plan() %}
with
{%- if plan.incremental %}
sheet_changes as materialized (
    -- a sheet row's key is its lower-cased e-mail: hash both it and the payload's e-mail
    select {{ hash_pii('record_id') }} as email_hash
    from {{ ref('base_sheet__leads') }} where _loaded_at > {{ record_since(plan.last) }}
    union
    select {{ hash_pii("payload ->> 'email'") }}
    from {{ ref('base_sheet__leads') }} where _loaded_at > {{ record_since(plan.last) }}
),

scope as materialized (
    select record_id as lead_id from ({{ record_changed_ids('base_hubspot__contacts', plan) }}) as c
    union
    select record_key from ({{ record_upstream_changes('int_contact_merges', plan) }}) as m
    union
    select contact_id from {{ ref('stg_hubspot__contacts') }}
    where email_hash in (select email_hash from sheet_changes)
),
{%- endif %}

contacts as {% if plan.incremental %}materialized {% endif %}(
    select * from {{ ref('stg_hubspot__contacts') }} as c
    -- an anti-join (`merged_id` is never null, so this equals `not in`, which plans as a slower mark join)
    where not exists (
        select 1 from {{ ref('int_contact_merges') }} as m where m.merged_id = c.contact_id
    )
    and {{ record_in_scope(['c.contact_id'], 'scope', ['lead_id'], plan) }}
),

owners as (
    select * from {{ ref('stg_hubspot__owners') }}
),

team_timezones as (
    select owners.team_id, min(users.timezone) as timezone
    from owners
    inner join {{ ref('stg_calendly__users') }} as users
        on owners.email_hash = users.email_hash
    where users.timezone is not null
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
    where email_hash is not null
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
        contacts._loaded_at
    from contacts
    left join owners on contacts.owner_id = owners.owner_id
    left join team_timezones on owners.team_id = team_timezones.team_id
    left join channels on contacts.lead_channel = channels.source_value
    left join sheet on contacts.email_hash = sheet.email_hash
)

{{ record_scope_select('final', 'scope', ['lead_id'], plan) }}
