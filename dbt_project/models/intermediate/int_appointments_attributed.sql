/* grain: one row per appointment of a lead, with the ask that produced it and its replacement */
{{ config(materialized='incremental', incremental_strategy='append',
          pre_hook="{{ delete_affected_leads() }}") }}
with appointments as (
    select * from {{ ref('int_appointments') }}
    where lead_id is not null and {{ affected_leads_only('lead_id') }}
),

accepted_asks as (
    select ask_id, lead_id, asked_at, responded_at
    from {{ ref('int_asks_sequenced') }}
    where response = 'accepted' and {{ affected_rows_of('int_asks_sequenced') }}
),

-- the lead's latest accepted ask before the booking was created (data-contract.md section 1)
attributed as (
    select
        appointments.appointment_id,
        accepted_asks.ask_id,
        row_number() over (
            partition by appointments.appointment_id
            order by accepted_asks.responded_at desc, accepted_asks.ask_id desc
        ) as ask_rank
    from appointments
    inner join accepted_asks
        on appointments.lead_id = accepted_asks.lead_id
        and accepted_asks.responded_at <= appointments.booked_at
),

-- a rescheduled meeting is replaced by the lead's next meeting; Calendly names the new invitee
next_booking as (
    select
        appointment_id,
        lead(appointment_id) over (
            partition by lead_id, appointment_source order by booked_at, appointment_id
        ) as next_appointment_id
    from appointments
)

select
    appointments.appointment_id,
    appointments.appointment_source,
    appointments.source_record_id,
    appointments.lead_id,
    appointments.host_owner_id,
    appointments.appointment_channel,
    appointments.ask_key,
    appointments.ask_level,
    attributed.ask_id,
    appointments.booked_at,
    appointments.starts_at,
    appointments.ends_at,
    appointments.status,
    case
        when appointments.status <> 'rescheduled' then null
        when appointments.appointment_source = 'calendly_event' then 'calendly:' || appointments.rescheduled_to_source_id
        else next_booking.next_appointment_id
    end as rescheduled_to_appointment_id,
    appointments._loaded_at,
    {{ record_stamp() }} as _built_at
from appointments
left join attributed
    on appointments.appointment_id = attributed.appointment_id and attributed.ask_rank = 1
left join next_booking on appointments.appointment_id = next_booking.appointment_id
