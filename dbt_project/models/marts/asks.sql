/* grain: one row per ask made to a lead */
{{ config(materialized='incremental', incremental_strategy='append',
          pre_hook="{{ delete_affected_leads() }}") }}
with asks as (
    select * from {{ ref('int_asks_sequenced') }}
    where {{ affected_rows_of('int_asks_sequenced') }}
),

leads as (
    select lead_id, team_id, team_name, channel from {{ lead_attributes() }} as leads
),

final as (
    select
        cast(asks.ask_id as varchar) as ask_id,
        cast(asks.lead_id as varchar) as lead_id,
        cast(asks.engagement_type as varchar) as engagement_type,
        cast(asks.engagement_id as varchar) as engagement_id,
        cast(asks.requester_id as varchar) as requester_id,
        cast(leads.team_id as varchar) as team_id,
        cast(leads.team_name as varchar) as team_name,
        cast({{ ask_channel('asks', 'leads') }} as varchar) as channel,
        cast(asks.medium as varchar) as medium,
        cast(asks.asked_at as timestamp) as asked_at,
        cast(asks.ask_key as varchar) as ask_key,
        cast(asks.ask_level as integer) as ask_level,
        cast(asks.alternative_ask_key as varchar) as alternative_ask_key,
        cast(asks.alternative_ask_level as integer) as alternative_ask_level,
        cast(asks.is_target_ask as boolean) as is_target_ask,
        cast(asks.ask_number as bigint) as ask_number,
        cast(asks.preceding_ask_id as varchar) as preceding_ask_id,
        cast(asks.response as varchar) as response,
        cast(asks.response = 'accepted' as boolean) as is_accepted,
        cast(asks.responded_at as timestamp) as responded_at,
        cast({{ seconds_between('asks.asked_at', 'asks.responded_at') }} / 3600.0 as double precision)
            as response_hours,
        cast(asks.sequence_condition as varchar) as sequence_condition,
        {{ record_stamp() }} as _built_at
    from asks
    inner join leads on asks.lead_id = leads.lead_id
)

select * from final
