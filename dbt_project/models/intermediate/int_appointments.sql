/* grain: one row per appointment: a HubSpot meeting (mobile) or a Calendly invitee on its event (web) */
with as_of as (
    select {{ as_of_sql() }} as as_of_at
),

ladder as (
    select aliases.source_system, aliases.source_value, ladder.ask_key, ladder.ask_level
    from {{ ref('ask_ladder_aliases') }} as aliases
    inner join {{ ref('ask_ladder') }} as ladder on aliases.ask_key = ladder.ask_key
),

channels as (
    select source_system, channel from {{ ref('channel_mapping') }}
    where source_system in ('hubspot_appointment', 'calendly_appointment')
),

meetings as (
    select
        'meeting:' || meetings.meeting_id as appointment_id,
        'hubspot_meeting' as appointment_source,
        meetings.meeting_id as source_record_id,
        links.contact_id as lead_id,
        meetings.owner_id as host_owner_id,
        ladder.ask_key,
        ladder.ask_level,
        meetings.created_at as booked_at,
        meetings.starts_at,
        meetings.ends_at,
        case meetings.meeting_outcome
            when 'COMPLETED' then 'held'
            when 'CANCELED' then 'canceled'
            when 'CANCELLED' then 'canceled'
            when 'RESCHEDULED' then 'rescheduled'
            when 'NO_SHOW' then 'no_show'
            else 'scheduled'
        end as status,
        cast(null as varchar) as rescheduled_to_source_id,
        meetings._loaded_at
    from {{ ref('stg_hubspot__meetings') }} as meetings
    left join {{ ref('int_contact_links') }} as links
        on links.from_type = 'meetings' and links.from_id = meetings.meeting_id
    left join ladder
        on ladder.source_system = 'hubspot_meeting' and meetings.activity_type = ladder.source_value
),

lead_emails as (
    select email_hash, min(lead_id) as lead_id
    from {{ ref('int_leads_resolved') }}
    where email_hash is not null
    group by email_hash
),

calendly as (
    select
        'calendly:' || invitees.invitee_uri as appointment_id,
        'calendly_event' as appointment_source,
        invitees.invitee_uri as source_record_id,
        lead_emails.lead_id,
        owners.owner_id as host_owner_id,
        ladder.ask_key,
        ladder.ask_level,
        invitees.created_at as booked_at,
        events.starts_at,
        events.ends_at,
        case
            when invitees.is_rescheduled then 'rescheduled'
            when invitees.invitee_status = 'canceled' or events.event_status = 'canceled' then 'canceled'
            when invitees.is_no_show then 'no_show'
            when events.starts_at <= as_of.as_of_at then 'held'
            else 'scheduled'
        end as status,
        invitees.new_invitee_uri as rescheduled_to_source_id,
        greatest(invitees._loaded_at, events._loaded_at) as _loaded_at
    from {{ ref('stg_calendly__invitees') }} as invitees
    cross join as_of
    inner join {{ ref('stg_calendly__scheduled_events') }} as events
        on invitees.event_uri = events.event_uri
    left join {{ ref('stg_calendly__event_types') }} as event_types
        on events.event_type_uri = event_types.event_type_uri
    left join ladder
        on ladder.source_system = 'calendly_event_type'
        and coalesce(event_types.event_type_name_key, lower(trim(events.event_name))) = ladder.source_value
    left join {{ ref('stg_calendly__users') }} as users on events.host_user_uri = users.user_uri
    left join {{ ref('stg_hubspot__owners') }} as owners on users.email_hash = owners.email_hash
    left join lead_emails on invitees.email_hash = lead_emails.email_hash
),

unioned as (
    select * from meetings
    union all
    select * from calendly
)

select
    unioned.*,
    coalesce(channels.channel, case when unioned.appointment_source = 'hubspot_meeting' then 'mobile' else 'web' end)
        as appointment_channel
from unioned
left join channels
    on channels.source_system
    = case when unioned.appointment_source = 'hubspot_meeting' then 'hubspot_appointment' else 'calendly_appointment' end
