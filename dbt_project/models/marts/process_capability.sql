/* grain: one row per unit (team, or rep with enough volume) and team-local week of first contact:
   the share of contacted leads that booked an appointment, on a p-chart */
with contacted as (
    select
        team_id,
        team_name,
        owner_id,
        owner_name,
        {{ week_start('contacted_local_date') }} as contact_week,
        case when appointment_booked_at is not null then 1 else 0 end as is_converted
    from {{ ref('leads') }}
    where contacted_at is not null
),

rep_volume as (
    select owner_id from contacted
    where owner_id is not null
    group by owner_id
    having count(*) >= {{ var('capability_min_rep_n') }}
),

units as (
    select 'team' as unit_type, team_id as unit_id, team_name as unit_name, contact_week, is_converted
    from contacted
    union all
    select 'rep', contacted.owner_id, contacted.owner_name, contact_week, is_converted
    from contacted
    inner join rep_volume on contacted.owner_id = rep_volume.owner_id
),

weekly as (
    select
        unit_type,
        unit_id,
        max(unit_name) as unit_name,
        contact_week,
        count(*) as n_contacted,
        sum(is_converted) as n_converted
    from units
    group by unit_type, unit_id, contact_week
),

centre as (
    select
        weekly.*,
        cast(n_converted as double precision) / n_contacted as conversion_rate,
        cast(sum(n_converted) over (partition by unit_type, unit_id) as double precision)
            / sum(n_contacted) over (partition by unit_type, unit_id) as centre_line
    from weekly
),

limits as (
    select
        centre.*,
        {{ p_chart_lcl('centre_line', 'n_contacted') }} as lower_control_limit,
        {{ p_chart_ucl('centre_line', 'n_contacted') }} as upper_control_limit
    from centre
),

flagged as (
    select
        limits.*,
        conversion_rate < lower_control_limit - 1e-12 or conversion_rate > upper_control_limit + 1e-12
            as is_out_of_control
    from limits
),

summary as (
    select
        flagged.*,
        count(*) over (partition by unit_type, unit_id) as weeks_observed,
        sum(case when is_out_of_control then 1 else 0 end) over (partition by unit_type, unit_id)
            as weeks_out_of_control,
        avg(conversion_rate) over (partition by unit_type, unit_id) as mean_weekly_rate,
        stddev_samp(conversion_rate) over (partition by unit_type, unit_id) as stddev_weekly_rate
    from flagged
),

final as (
    select
        cast(unit_type as varchar) as unit_type,
        cast(unit_id as varchar) as unit_id,
        cast(unit_name as varchar) as unit_name,
        cast('contacted_to_booked' as varchar) as metric,
        cast(contact_week as date) as week_start,
        cast(n_contacted as bigint) as n_contacted,
        cast(n_converted as bigint) as n_converted,
        cast(conversion_rate as double precision) as conversion_rate,
        cast(centre_line as double precision) as centre_line,
        cast(lower_control_limit as double precision) as lower_control_limit,
        cast(upper_control_limit as double precision) as upper_control_limit,
        cast(is_out_of_control as boolean) as is_out_of_control,
        cast(weeks_observed as bigint) as weeks_observed,
        cast(weeks_out_of_control as bigint) as weeks_out_of_control,
        cast(1.0 - cast(weeks_out_of_control as double precision) / weeks_observed as double precision)
            as share_weeks_in_control,
        cast(mean_weekly_rate as double precision) as mean_weekly_rate,
        cast(stddev_weekly_rate as double precision) as stddev_weekly_rate
    from summary
)

select * from final
