/* grain: one row per ask (an outbound call or e-mail engagement carrying an `ask_type`) */
with engagements as (
    select * from {{ ref('stg_hubspot__calls') }}
    union all
    select * from {{ ref('stg_hubspot__emails') }}
),

ladder as (
    select aliases.source_value, ladder.ask_key, ladder.ask_level
    from {{ ref('ask_ladder_aliases') }} as aliases
    inner join {{ ref('ask_ladder') }} as ladder on aliases.ask_key = ladder.ask_key
    where aliases.source_system = 'hubspot_engagement'
),

channels as (
    select source_value, channel, medium
    from {{ ref('channel_mapping') }}
    where source_system = 'hubspot_engagement'
),

as_of as (
    select {{ as_of_sql() }} as as_of_at
),

joined as (
    select
        engagements.engagement_type || ':' || engagements.engagement_id as ask_id,
        engagements.engagement_type,
        engagements.engagement_id,
        links.contact_id as lead_id,
        engagements.owner_id as requester_id,
        engagements.sent_at as asked_at,
        asked.ask_key,
        asked.ask_level,
        alternative.ask_key as alternative_ask_key,
        alternative.ask_level as alternative_ask_level,
        channels.channel,
        channels.medium,
        engagements.ask_outcome,
        engagements.ask_outcome_at,
        engagements._loaded_at
    from engagements
    inner join ladder as asked on engagements.ask_type = asked.source_value
    left join ladder as alternative on engagements.ask_alternative = alternative.source_value
    left join {{ ref('int_contact_links') }} as links
        on links.from_type = engagements.engagement_type and links.from_id = engagements.engagement_id
    left join channels on engagements.engagement_type = channels.source_value
)

select
    joined.ask_id,
    joined.engagement_type,
    joined.engagement_id,
    joined.lead_id,
    joined.requester_id,
    joined.asked_at,
    joined.ask_key,
    joined.ask_level,
    joined.alternative_ask_key,
    joined.alternative_ask_level,
    joined.channel,
    joined.medium,
    case
        when joined.ask_outcome in ('accepted', 'declined') then joined.ask_outcome
        when {{ seconds_between('joined.asked_at', 'as_of.as_of_at') }}
            >= {{ var('response_window_days') }} * 86400.0 then 'no_response'
        else 'pending'
    end as response,
    case when joined.ask_outcome in ('accepted', 'declined') then joined.ask_outcome_at end as responded_at,
    joined._loaded_at
from joined
cross join as_of
