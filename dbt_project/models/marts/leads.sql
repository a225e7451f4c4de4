/* grain: one row per lead (a live, not merged-away HubSpot contact) */
{{ config(materialized='incremental', incremental_strategy='append',
          pre_hook="{{ delete_affected_leads() }}") }}
with leads as (
    select * from {{ lead_attributes() }} as leads
),

journey as (
    select * from {{ ref('int_lead_journey') }}
    where {{ affected_rows_of('int_lead_journey') }}
),

stages as (
    select * from {{ ref('stage_mapping') }}
),

reached as (
    select
        leads.lead_id,
        leads.lead_source,
        leads.is_in_lead_sheet,
        leads.channel,
        leads.team_id,
        leads.team_name,
        leads.team_timezone,
        leads.owner_id,
        leads.owner_name,
        leads.email_hash,
        leads.created_at,
        journey.contacted_at,
        journey.engaged_at,
        journey.appointment_booked_at,
        journey.appointment_held_at,
        journey.active_prospect_at,
        journey.won_at,
        journey.asks_count,
        journey.appointments_count,
        case
            when journey.won_at is not null then 'won'
            when journey.active_prospect_at is not null then 'active_prospect'
            when journey.appointment_held_at is not null then 'appointment_held'
            when journey.appointment_booked_at is not null then 'appointment_booked'
            when journey.engaged_at is not null then 'engaged'
            when journey.contacted_at is not null then 'contacted'
            else 'lead_created'
        end as furthest_stage
    from leads
    inner join journey on leads.lead_id = journey.lead_id
),

final as (
    select
        cast(reached.lead_id as varchar) as lead_id,
        cast(reached.lead_source as varchar) as lead_source,
        cast(reached.is_in_lead_sheet as boolean) as is_in_lead_sheet,
        cast(reached.channel as varchar) as channel,
        cast(reached.team_id as varchar) as team_id,
        cast(reached.team_name as varchar) as team_name,
        cast(reached.team_timezone as varchar) as team_timezone,
        cast(reached.owner_id as varchar) as owner_id,
        cast(reached.owner_name as varchar) as owner_name,
        cast(reached.email_hash as varchar) as email_hash,
        cast(reached.created_at as timestamp) as created_at,
        cast({{ utc_to_local('reached.created_at', 'reached.team_timezone') }} as date) as created_local_date,
        cast(reached.contacted_at as timestamp) as contacted_at,
        cast({{ utc_to_local('reached.contacted_at', 'reached.team_timezone') }} as date) as contacted_local_date,
        cast(reached.engaged_at as timestamp) as engaged_at,
        cast(reached.appointment_booked_at as timestamp) as appointment_booked_at,
        cast(reached.appointment_held_at as timestamp) as appointment_held_at,
        cast(reached.active_prospect_at as timestamp) as active_prospect_at,
        cast(reached.won_at as timestamp) as won_at,
        cast(reached.furthest_stage as varchar) as furthest_stage,
        cast(stages.stage_order as integer) as furthest_stage_order,
        cast(stages.celra_step as varchar) as celra_step,
        cast(reached.asks_count as bigint) as asks_count,
        cast(reached.appointments_count as bigint) as appointments_count,
        cast({{ seconds_between('reached.created_at', 'reached.contacted_at') }} / 86400.0 as double precision)
            as days_created_to_contacted,
        cast({{ seconds_between('reached.contacted_at', 'reached.engaged_at') }} / 86400.0 as double precision)
            as days_contacted_to_engaged,
        cast({{ seconds_between('reached.engaged_at', 'reached.appointment_booked_at') }} / 86400.0 as double precision)
            as days_engaged_to_booked,
        cast({{ seconds_between('reached.appointment_booked_at', 'reached.appointment_held_at') }} / 86400.0 as double precision)
            as days_booked_to_held,
        cast({{ seconds_between('reached.appointment_held_at', 'reached.active_prospect_at') }} / 86400.0 as double precision)
            as days_held_to_prospect,
        cast({{ seconds_between('reached.active_prospect_at', 'reached.won_at') }} / 86400.0 as double precision)
            as days_prospect_to_won,
        {{ record_stamp() }} as _built_at
    from reached
    inner join stages on reached.furthest_stage = stages.funnel_stage
)

select * from final
