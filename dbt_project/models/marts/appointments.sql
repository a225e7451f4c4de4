/* grain: one row per appointment booked for a lead (meeting or Calendly booking; reschedules are new rows) */
{{ config(materialized='incremental', incremental_strategy='append',
          pre_hook="{{ delete_affected_leads() }}") }}
with appointments as (
    select * from {{ ref('int_appointments_attributed') }}
    where {{ affected_rows_of('int_appointments_attributed') }}
),

leads as (
    select lead_id, team_id, team_name from {{ lead_attributes() }} as leads
),

asks as (
    select ask_id, ask_level, sequence_condition from {{ ref('int_asks_sequenced') }}
    where {{ affected_rows_of('int_asks_sequenced') }}
),

final as (
    select
        cast(appointments.appointment_id as varchar) as appointment_id,
        cast(appointments.lead_id as varchar) as lead_id,
        cast(appointments.appointment_source as varchar) as appointment_source,
        cast(appointments.source_record_id as varchar) as source_record_id,
        cast(appointments.appointment_channel as varchar) as channel,
        cast(leads.team_id as varchar) as team_id,
        cast(leads.team_name as varchar) as team_name,
        cast(appointments.host_owner_id as varchar) as host_owner_id,
        cast(appointments.ask_key as varchar) as ask_key,
        cast(appointments.ask_level as integer) as ask_level,
        cast(appointments.ask_id as varchar) as ask_id,
        cast(asks.ask_level as integer) as producing_ask_level,
        cast(asks.sequence_condition as varchar) as producing_ask_condition,
        cast(appointments.booked_at as timestamp) as booked_at,
        cast(appointments.starts_at as timestamp) as starts_at,
        cast(appointments.ends_at as timestamp) as ends_at,
        cast(appointments.status as varchar) as status,
        cast(appointments.status = 'held' as boolean) as is_held,
        cast(appointments.status = 'canceled' as boolean) as is_canceled,
        cast(appointments.status = 'rescheduled' as boolean) as is_rescheduled,
        cast(appointments.status = 'no_show' as boolean) as is_no_show,
        cast(appointments.rescheduled_to_appointment_id as varchar) as rescheduled_to_appointment_id,
        cast({{ seconds_between('appointments.booked_at', 'appointments.starts_at') }} / 3600.0 as double precision)
            as lead_time_hours,
        {{ record_stamp() }} as _built_at
    from appointments
    inner join leads on appointments.lead_id = leads.lead_id
    left join asks on appointments.ask_id = asks.ask_id
)

select * from final
