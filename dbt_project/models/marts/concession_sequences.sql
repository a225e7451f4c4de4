/* grain: one row per target ask (an ask below the top of the ladder) with its concession condition.
   Reads the lead-grain intermediate tables (their rows of the affected leads), not the marts `asks`,
   `appointments` and `leads`, so it builds beside them (D48). */
{{ config(materialized='incremental', incremental_strategy='append',
          pre_hook="{{ delete_affected_leads() }}") }}
with target_asks as (
    select * from {{ ref('int_asks_sequenced') }}
    where is_target_ask and {{ affected_rows_of('int_asks_sequenced') }}
),

leads as (
    select lead_id, team_id, team_name, channel from {{ lead_attributes() }} as leads
),

appointments as (
    select
        ask_id,
        count(*) as appointments_booked,
        max(case when status = 'held' then 1 else 0 end) as any_held,
        min(case when status = 'held' then starts_at end) as first_held_at
    from {{ ref('int_appointments_attributed') }}
    where ask_id is not null and {{ affected_rows_of('int_appointments_attributed') }}
    group by ask_id
),

journeys as (
    select lead_id, active_prospect_at, won_at from {{ ref('int_lead_journey') }}
    where {{ affected_rows_of('int_lead_journey') }}
),

final as (
    select
        cast(target_asks.ask_id as varchar) as ask_id,
        cast(target_asks.lead_id as varchar) as lead_id,
        cast({{ ask_channel('target_asks', 'leads') }} as varchar) as channel,
        cast(leads.team_id as varchar) as team_id,
        cast(leads.team_name as varchar) as team_name,
        cast(target_asks.requester_id as varchar) as requester_id,
        cast(target_asks.asked_at as timestamp) as asked_at,
        cast({{ month_label('target_asks.asked_at') }} as varchar) as asked_month,
        cast(target_asks.ask_key as varchar) as ask_key,
        cast(target_asks.ask_level as integer) as ask_level,
        cast(target_asks.sequence_condition as varchar) as sequence_condition,
        cast(target_asks.refused_ask_id as varchar) as refused_ask_id,
        cast(target_asks.refused_ask_level as integer) as refused_ask_level,
        cast(target_asks.refused_requester_id as varchar) as refused_requester_id,
        cast(target_asks.refused_at as timestamp) as refused_at,
        cast(target_asks.gap_hours as double precision) as gap_hours,
        cast(coalesce(target_asks.gap_bucket, 'none') as varchar) as gap_bucket,
        cast(target_asks.response as varchar) as response,
        cast(target_asks.response = 'accepted' as boolean) as is_compliant,
        cast(coalesce(appointments.appointments_booked, 0) > 0 as boolean) as is_booked,
        cast(coalesce(appointments.any_held, 0) = 1 as boolean) as is_held,
        cast(coalesce(journeys.active_prospect_at >= appointments.first_held_at, false) as boolean) as is_prospect,
        cast(
            coalesce(journeys.active_prospect_at >= appointments.first_held_at and journeys.won_at is not null, false)
            as boolean
        ) as is_won,
        {{ record_stamp() }} as _built_at
    from target_asks
    inner join leads on target_asks.lead_id = leads.lead_id
    inner join journeys on target_asks.lead_id = journeys.lead_id
    left join appointments on target_asks.ask_id = appointments.ask_id
)

select * from final
