/* grain: one row per lead (a live contact not merged away), with owner, team, channel and source */
with contacts as (
    select * from {{ ref('stg_hubspot__contacts') }} as c
    -- an anti-join (`merged_id` is never null, so this equals `not in`, which plans as a slower mark join)
    where not exists (
        select 1 from {{ ref('int_contact_merges') }} as m where m.merged_id = c.contact_id
    )
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
    group by email_hash
)

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
