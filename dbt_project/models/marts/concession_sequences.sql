/* grain: one row per target ask (an ask below the top of the ladder) with its concession condition */
{{ config(materialized='incremental', incremental_strategy='append',
          pre_hook="{{ delete_affected_leads() }}") }}
with target_asks as (
    select * from {{ ref('asks') }}
    where is_target_ask and {{ affected_leads_only('lead_id') }}
),

refusals as (
    select ask_id, refused_ask_id, refused_ask_level, refused_requester_id, refused_at, gap_hours, gap_bucket
    from {{ ref('int_asks_sequenced') }}
    where is_target_ask and {{ affected_leads_only('lead_id') }}
),

appointments as (
    select
        ask_id,
        count(*) as appointments_booked,
        max(case when is_held then 1 else 0 end) as any_held,
        min(case when is_held then starts_at end) as first_held_at
    from {{ ref('appointments') }}
    where ask_id is not null and {{ affected_leads_only('lead_id') }}
    group by ask_id
),

leads as (
    select lead_id, active_prospect_at, won_at from {{ ref('leads') }}
    where {{ affected_leads_only('lead_id') }}
),

final as (
    select
        cast(target_asks.ask_id as varchar) as ask_id,
        cast(target_asks.lead_id as varchar) as lead_id,
        cast(target_asks.channel as varchar) as channel,
        cast(target_asks.team_id as varchar) as team_id,
        cast(target_asks.team_name as varchar) as team_name,
        cast(target_asks.requester_id as varchar) as requester_id,
        cast(target_asks.asked_at as timestamp) as asked_at,
        cast({{ month_label('target_asks.asked_at') }} as varchar) as asked_month,
        cast(target_asks.ask_key as varchar) as ask_key,
        cast(target_asks.ask_level as integer) as ask_level,
        cast(target_asks.sequence_condition as varchar) as sequence_condition,
        cast(refusals.refused_ask_id as varchar) as refused_ask_id,
        cast(refusals.refused_ask_level as integer) as refused_ask_level,
        cast(refusals.refused_requester_id as varchar) as refused_requester_id,
        cast(refusals.refused_at as timestamp) as refused_at,
        cast(refusals.gap_hours as double precision) as gap_hours,
        cast(coalesce(refusals.gap_bucket, 'none') as varchar) as gap_bucket,
        cast(target_asks.response as varchar) as response,
        cast(target_asks.is_accepted as boolean) as is_compliant,
        cast(coalesce(appointments.appointments_booked, 0) > 0 as boolean) as is_booked,
        cast(coalesce(appointments.any_held, 0) = 1 as boolean) as is_held,
        cast(coalesce(leads.active_prospect_at >= appointments.first_held_at, false) as boolean) as is_prospect,
        cast(
            coalesce(leads.active_prospect_at >= appointments.first_held_at and leads.won_at is not null, false)
            as boolean
        ) as is_won
    from target_asks
    inner join refusals on target_asks.ask_id = refusals.ask_id
    inner join leads on target_asks.lead_id = leads.lead_id
    left join appointments on target_asks.ask_id = appointments.ask_id
)

select * from final
