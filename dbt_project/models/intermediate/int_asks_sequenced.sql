/* grain: one row per ask of a lead, with the ask before it and, for target asks, the concession condition */
{{ config(materialized='incremental', incremental_strategy='append',
          pre_hook="{{ delete_affected_leads() }}") }}
with asks as (
    select * from {{ ref('int_asks') }}
    where lead_id is not null and {{ affected_leads_only('lead_id') }}
),

top_level as (
    select max(ask_level) as top_ask_level from {{ ref('ask_ladder') }}
),

ordered as (
    select
        asks.*,
        lag(asks.ask_id) over (partition by asks.lead_id order by asks.asked_at, asks.ask_id) as preceding_ask_id,
        row_number() over (partition by asks.lead_id order by asks.asked_at, asks.ask_id) as ask_number,
        asks.ask_level < top_level.top_ask_level as is_target_ask
    from asks
    cross join top_level
),

-- larger asks of the same lead, declined before the target ask went out, within the concession window
refusals as (
    select
        target.ask_id,
        larger.ask_id as refused_ask_id,
        larger.ask_level as refused_ask_level,
        larger.requester_id as refused_requester_id,
        larger.responded_at as refused_at,
        {{ seconds_between('larger.responded_at', 'target.asked_at') }} / 3600.0 as gap_hours,
        row_number() over (
            partition by target.ask_id
            order by larger.responded_at desc, larger.ask_id desc
        ) as refusal_rank
    from ordered as target
    inner join asks as larger
        on target.lead_id = larger.lead_id
        and larger.ask_level > target.ask_level
        and larger.response = 'declined'
        and larger.asked_at < target.asked_at
        and larger.responded_at <= target.asked_at
        and {{ seconds_between('larger.responded_at', 'target.asked_at') }}
            <= {{ var('concession_window_days') }} * 86400.0
    where target.is_target_ask
),

latest_refusal as (
    select * from refusals where refusal_rank = 1
)

select
    ordered.ask_id,
    ordered.engagement_type,
    ordered.engagement_id,
    ordered.lead_id,
    ordered.requester_id,
    ordered.asked_at,
    ordered.ask_key,
    ordered.ask_level,
    ordered.alternative_ask_key,
    ordered.alternative_ask_level,
    ordered.channel,
    ordered.medium,
    ordered.response,
    ordered.responded_at,
    ordered.preceding_ask_id,
    ordered.ask_number,
    ordered.is_target_ask,
    case
        when not ordered.is_target_ask then null
        when latest_refusal.refused_ask_id is not null
            and latest_refusal.refused_requester_id = ordered.requester_id then 'door_in_the_face'
        when latest_refusal.refused_ask_id is not null then 'door_in_the_face_other_requester'
        when ordered.alternative_ask_level > ordered.ask_level then 'exposure_control'
        else 'direct'
    end as sequence_condition,
    latest_refusal.refused_ask_id,
    latest_refusal.refused_ask_level,
    latest_refusal.refused_requester_id,
    latest_refusal.refused_at,
    latest_refusal.gap_hours,
    case
        when latest_refusal.refused_ask_id is null then null
        when latest_refusal.gap_hours < {{ var('gap_same_day_hours') }} then 'same_day'
        when latest_refusal.gap_hours <= {{ var('gap_within_week_hours') }} then 'within_week'
        else 'later'
    end as gap_bucket,
    ordered._loaded_at,
    {{ record_stamp() }} as _built_at
from ordered
left join latest_refusal on ordered.ask_id = latest_refusal.ask_id
