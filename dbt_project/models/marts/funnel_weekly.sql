/* grain: one row per cohort week (team-local week of lead creation), channel and team */
{#- (percentile, column suffix, stage timestamp in `leads`): days from creation to each stage -#}
{%- set time_to_stage = [] -%}
{%- for name, column in [('contacted', 'contacted_at'), ('engaged', 'engaged_at'), ('booked', 'appointment_booked_at'),
                         ('held', 'appointment_held_at'), ('prospect', 'active_prospect_at'), ('won', 'won_at')] -%}
{%- for q in [50, 90] %}{% do time_to_stage.append((q, name, column)) %}{% endfor -%}
{%- endfor %}
with leads as (
    select
        *,
        {{ week_start('created_local_date') }} as cohort_week
    from {{ ref('leads') }}
),

weekly as (
    select
        cohort_week,
        channel,
        team_id,
        team_name,
        count(*) as leads_created,
        count(contacted_at) as leads_contacted,
        count(engaged_at) as leads_engaged,
        count(appointment_booked_at) as leads_appointment_booked,
        count(appointment_held_at) as leads_appointment_held,
        count(active_prospect_at) as leads_active_prospect,
        count(won_at) as leads_won,
        {%- for q, name, column in time_to_stage %}
        percentile_cont({{ q / 100 }}) within group (
            order by {{ seconds_between('created_at', column) }} / 86400.0
        ) as p{{ q }}_days_to_{{ name }}{{ ',' if not loop.last }}
        {%- endfor %}
    from leads
    group by cohort_week, channel, team_id, team_name
),

final as (
    select
        cast(cohort_week as date) as cohort_week,
        cast(channel as varchar) as channel,
        cast(team_id as varchar) as team_id,
        cast(team_name as varchar) as team_name,
        cast(leads_created as bigint) as leads_created,
        cast(leads_contacted as bigint) as leads_contacted,
        cast(leads_engaged as bigint) as leads_engaged,
        cast(leads_appointment_booked as bigint) as leads_appointment_booked,
        cast(leads_appointment_held as bigint) as leads_appointment_held,
        cast(leads_active_prospect as bigint) as leads_active_prospect,
        cast(leads_won as bigint) as leads_won,
        {%- set steps = [
            ('created', 'contacted'), ('contacted', 'engaged'), ('engaged', 'appointment_booked'),
            ('appointment_booked', 'appointment_held'), ('appointment_held', 'active_prospect'),
            ('active_prospect', 'won')] %}
        {%- for prev, next in steps %}
        cast(
            case when leads_{{ prev }} > 0
                then cast(leads_{{ next }} as double precision) / leads_{{ prev }} end
            as double precision
        ) as rate_{{ prev }}_to_{{ next }},
        {%- endfor %}
        {%- for q, name, column in time_to_stage %}
        cast(p{{ q }}_days_to_{{ name }} as double precision) as p{{ q }}_days_to_{{ name }}{{ ',' if not loop.last }}
        {%- endfor %}
    from weekly
)

select * from final
