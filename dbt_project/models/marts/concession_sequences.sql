/* grain: one row per target ask (an ask below the top of the ladder) with its concession condition */
{{ config(materialized='incremental', incremental_strategy='append',
          pre_hook="{{ delete_affected_leads() }}") }}
-- built from the intermediate models, not from the `asks`, `appointments` and `leads` marts, so that
-- it runs beside them instead of after them and their tests (decision D45)
with target_asks as (
    select * from {{ ref('int_asks_sequenced') }}
    where is_target_ask and {{ affected_leads_only('lead_id') }}
),

lead_teams as (
    select lead_id, team_id, team_name, channel as lead_channel from {{ ref('int_leads_resolved') }}
    where {{ affected_leads_only('lead_id') }}
),

appointments as (
    select
        ask_id,
        count(*) as appointments_booked,
        max(case when status = 'held' then 1 else 0 end) as any_held,
        min(case when status = 'held' then starts_at end) as first_held_at
    from {{ ref('int_appointments_attributed') }}
    where ask_id is not null and {{ affected_leads_only('lead_id') }}
    group by ask_id
),

leads as (
    select lead_id, active_prospect_at, won_at from {{ ref('int_lead_journey') }}
    where {{ affected_leads_only('lead_id') }}
),

final as (
    select
        cast(target_asks.ask_id as varchar) as ask_id,
        cast(target_asks.lead_id as varchar) as lead_id,
        -- as in the `asks` mart: the ask's own channel, else the lead's
        cast(coalesce(target_asks.channel, lead_teams.lead_channel) as varchar) as channel,
        cast(lead_teams.team_id as varchar) as team_id,
        cast(lead_teams.team_name as varchar) as team_name,
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
        cast(coalesce(leads.active_prospect_at >= appointments.first_held_at, false) as boolean) as is_prospect,
        cast(
            coalesce(leads.active_prospect_at >= appointments.first_held_at and leads.won_at is not null, false)
            as boolean
        ) as is_won
    from target_asks
    inner join lead_teams on target_asks.lead_id = lead_teams.lead_id
    inner join leads on target_asks.lead_id = leads.lead_id
    left join appointments on target_asks.ask_id = appointments.ask_id
)

select * from final
