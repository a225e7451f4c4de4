/* grain: one row per lead: when it first reached each funnel stage.
   Asks and appointments come from the lead-grain tables built before it in this build (their rows
   of the affected leads, D48), not from the record tables. */
{{ config(materialized='incremental', incremental_strategy='append',
          pre_hook="{{ delete_affected_leads() }}") }}
with leads as (
    select lead_id from {{ lead_attributes() }} as leads
),

asks as (
    select
        lead_id,
        min(asked_at) as contacted_at,
        min(case when response = 'accepted' then responded_at end) as engaged_at,
        count(*) as asks_count
    from {{ ref('int_asks_sequenced') }}
    where {{ affected_rows_of('int_asks_sequenced') }}
    group by lead_id
),

appointments as (
    select
        lead_id,
        min(booked_at) as appointment_booked_at,
        min(case when status = 'held' then starts_at end) as appointment_held_at,
        count(*) as appointments_count
    from {{ ref('int_appointments_attributed') }}
    where {{ affected_rows_of('int_appointments_attributed') }}
    group by lead_id
),

deals as (
    select
        lead_id,
        min(created_at) as active_prospect_at,
        min(won_at) as won_at
    from {{ ref('int_deals') }}
    where {{ affected_leads_only('lead_id') }}
    group by lead_id
)

select
    leads.lead_id,
    asks.contacted_at,
    asks.engaged_at,
    appointments.appointment_booked_at,
    appointments.appointment_held_at,
    deals.active_prospect_at,
    deals.won_at,
    coalesce(asks.asks_count, 0) as asks_count,
    coalesce(appointments.appointments_count, 0) as appointments_count,
    {{ record_stamp() }} as _built_at
from leads
left join asks on leads.lead_id = asks.lead_id
left join appointments on leads.lead_id = appointments.lead_id
left join deals on leads.lead_id = deals.lead_id
