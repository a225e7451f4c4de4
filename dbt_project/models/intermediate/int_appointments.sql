/* grain: one row per appointment: a HubSpot meeting (mobile) or a Calendly invitee on its event (web).
   Record-level increments (decision D37): meetings and invitees with a new version since, invitees
   of events with a new version, meetings whose link changed, appointments of leads whose row changed
   and invitees with their e-mail (the lead they resolve to may have changed), and `scheduled` Calendly
   bookings that have started by `as_of` (they turn `held`). A change of event types, Calendly users or
   owners rebuilds the table. */
{{ config(materialized='record_table', record_keys=['appointment_id'], record_lead='lead_id', record_as_of=true,
          record_upstream=['int_contact_links', 'int_leads_resolved'],
          record_sources=['stg_hubspot__meetings', 'stg_calendly__invitees', 'stg_calendly__scheduled_events',
                          'stg_calendly__event_types', 'stg_calendly__users', 'stg_hubspot__owners'],
          record_full_on=['stg_calendly__event_types', 'stg_calendly__users', 'stg_hubspot__owners']) }}
{%- set plan = record_plan() %}
with
{%- if plan.incremental %}
lead_changes as materialized (
    select lead_id from ({{ record_upstream_changes('int_leads_resolved', plan) }}) as c
),

scope as materialized (
    select 'meeting:' || record_id as appointment_id
    from ({{ record_changed_ids('stg_hubspot__meetings', 'meeting_id', plan) }}) as m
    union
    select 'meeting:' || split_part(record_key, ':', 2)
    from ({{ record_upstream_changes('int_contact_links', plan) }}) as l
    where record_key like 'meetings:%'
    union
    select 'calendly:' || record_id from ({{ record_changed_ids('stg_calendly__invitees', 'invitee_uri', plan) }}) as i
    union
    select 'calendly:' || invitee_uri from {{ ref('stg_calendly__invitees') }}
    where event_uri in (select record_id from ({{ record_changed_ids('stg_calendly__scheduled_events', 'event_uri', plan) }}) as e)
    union
    -- the lead an invitee resolves to (by e-mail) may have changed: before (stored) and now (its e-mail)
    select appointment_id from {{ this }} where lead_id in (select lead_id from lead_changes)
    union
    select 'calendly:' || invitee_uri from {{ ref('stg_calendly__invitees') }}
    where email_hash in (
        select email_hash from {{ ref('int_leads_resolved') }} where lead_id in (select lead_id from lead_changes)
    )
    union
    -- Calendly bookings that have started by `as_of` (it only moves on: moving back rebuilds)
    select appointment_id from {{ this }}
    where appointment_source = 'calendly_event' and status = 'scheduled' and starts_at <= {{ as_of_sql() }}
),

scope_meetings as materialized (
    select substr(appointment_id, 9) as meeting_id from scope where appointment_id like 'meeting:%'
),

scope_invitees as materialized (
    select substr(appointment_id, 10) as invitee_uri from scope where appointment_id like 'calendly:%'
),
{%- endif %}

as_of as (
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
    left join (
        select from_id, contact_id from {{ ref('int_contact_links') }} as l
        where from_type = 'meetings' and {{ record_in_scope(['l.from_id'], 'scope_meetings', ['meeting_id'], plan) }}
    ) as links
        on links.from_id = meetings.meeting_id
    left join ladder
        on ladder.source_system = 'hubspot_meeting' and meetings.activity_type = ladder.source_value
    where not meetings.is_deleted and {{ record_in_scope(['meetings.meeting_id'], 'scope_meetings', ['meeting_id'], plan) }}
),

scoped_invitees as {% if plan.incremental %}materialized {% endif %}(
    select * from {{ ref('stg_calendly__invitees') }} as invitees
    where not invitees.is_deleted and {{ record_in_scope(['invitees.invitee_uri'], 'scope_invitees', ['invitee_uri'], plan) }}
),

lead_emails as (
    select email_hash, min(lead_id) as lead_id
    from {{ ref('int_leads_resolved') }}
    where email_hash is not null
    {%- if plan.incremental %} and email_hash in (select email_hash from scoped_invitees){% endif %}
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
    from scoped_invitees as invitees
    cross join as_of
    inner join {{ ref('stg_calendly__scheduled_events') }} as events
        on invitees.event_uri = events.event_uri and not events.is_deleted
    left join {{ ref('stg_calendly__event_types') }} as event_types
        on events.event_type_uri = event_types.event_type_uri and not event_types.is_deleted
    left join ladder
        on ladder.source_system = 'calendly_event_type'
        and coalesce(event_types.event_type_name_key, lower(trim(events.event_name))) = ladder.source_value
    left join {{ ref('stg_calendly__users') }} as users
        on events.host_user_uri = users.user_uri and not users.is_deleted
    left join {{ ref('stg_hubspot__owners') }} as owners
        on users.email_hash = owners.email_hash and not owners.is_deleted
    left join lead_emails on invitees.email_hash = lead_emails.email_hash
),

unioned as (
    select * from meetings
    union all
    select * from calendly
),

final as (
    select
        unioned.*,
        coalesce(channels.channel, case when unioned.appointment_source = 'hubspot_meeting' then 'mobile' else 'web' end)
            as appointment_channel
    from unioned
    left join channels
        on channels.source_system
        = case when unioned.appointment_source = 'hubspot_meeting' then 'hubspot_appointment' else 'calendly_appointment' end
)

{{ record_scope_select('final', 'scope', ['appointment_id'], plan) }}
