/* grain: one row per segment (overall, channel, team, gap bucket, month) and sequence condition */
with sequences as (
    select * from {{ ref('concession_sequences') }}
),

segmented as (
    select 'overall' as segment_type, 'all' as segment_value, sequence_condition,
        is_compliant, is_held, is_prospect, is_won
    from sequences
    union all
    select 'channel', channel, sequence_condition, is_compliant, is_held, is_prospect, is_won
    from sequences
    union all
    select 'team', team_name, sequence_condition, is_compliant, is_held, is_prospect, is_won
    from sequences
    union all
    -- direct and exposure-control asks have no refusal: gap segments compare against `direct` overall
    select 'gap_bucket', gap_bucket, sequence_condition, is_compliant, is_held, is_prospect, is_won
    from sequences
    where gap_bucket <> 'none'
    union all
    select 'month', asked_month, sequence_condition, is_compliant, is_held, is_prospect, is_won
    from sequences
),

counts as (
    select
        segment_type,
        segment_value,
        sequence_condition,
        count(*) as n_asks,
        sum(case when is_compliant then 1 else 0 end) as n_accepted,
        sum(case when is_held then 1 else 0 end) as n_held,
        sum(case when is_prospect then 1 else 0 end) as n_prospect,
        sum(case when is_won then 1 else 0 end) as n_won
    from segmented
    group by segment_type, segment_value, sequence_condition
),

direct_overall as (
    select n_asks, n_accepted from counts
    where segment_type = 'overall' and sequence_condition = 'direct'
),

with_baseline as (
    select
        counts.*,
        case when counts.segment_type = 'gap_bucket' then direct_overall.n_asks else direct_segment.n_asks end
            as baseline_n_asks,
        case when counts.segment_type = 'gap_bucket' then direct_overall.n_accepted else direct_segment.n_accepted end
            as baseline_n_accepted
    from counts
    left join counts as direct_segment
        on counts.segment_type = direct_segment.segment_type
        and counts.segment_value = direct_segment.segment_value
        and direct_segment.sequence_condition = 'direct'
    left join direct_overall on true
),

flagged as (
    select
        with_baseline.*,
        n_asks >= {{ var('min_segment_n') }} as has_enough_asks,
        n_asks >= {{ var('min_segment_n') }} and coalesce(baseline_n_asks, 0) >= {{ var('min_segment_n') }}
            and sequence_condition <> 'direct' as has_comparison
    from with_baseline
),

final as (
    select
        cast(segment_type as varchar) as segment_type,
        cast(segment_value as varchar) as segment_value,
        cast(sequence_condition as varchar) as sequence_condition,
        cast(n_asks as bigint) as n_asks,
        cast(n_accepted as bigint) as n_accepted,
        cast(
            case
                when not has_enough_asks then 'insufficient_data'
                when sequence_condition <> 'direct' and not has_comparison then 'no_baseline'
                else 'ok'
            end as varchar
        ) as data_status,
        cast(
            case
                when not has_enough_asks
                    then 'fewer than {{ var("min_segment_n") }} target asks: no rates shown'
                when sequence_condition <> 'direct' and not has_comparison
                    then 'fewer than {{ var("min_segment_n") }} direct asks to compare with: no lift shown'
            end as varchar
        ) as data_note,
        cast(case when has_enough_asks then cast(n_accepted as double precision) / n_asks end as double precision)
            as compliance_rate,
        cast(case when has_enough_asks then {{ wilson_low('n_accepted', 'n_asks') }} end as double precision)
            as compliance_ci_low,
        cast(case when has_enough_asks then {{ wilson_high('n_accepted', 'n_asks') }} end as double precision)
            as compliance_ci_high,
        cast(baseline_n_asks as bigint) as direct_n_asks,
        cast(baseline_n_accepted as bigint) as direct_n_accepted,
        cast(
            case when has_comparison
                then cast(n_accepted as double precision) / n_asks
                    - cast(baseline_n_accepted as double precision) / baseline_n_asks
            end as double precision
        ) as lift_vs_direct,
        cast(
            case when has_comparison
                then {{ diff_ci_low('n_accepted', 'n_asks', 'baseline_n_accepted', 'baseline_n_asks') }}
            end as double precision
        ) as lift_ci_low,
        cast(
            case when has_comparison
                then {{ diff_ci_high('n_accepted', 'n_asks', 'baseline_n_accepted', 'baseline_n_asks') }}
            end as double precision
        ) as lift_ci_high,
        cast(
            case when has_comparison
                then {{ two_proportion_p_value('n_accepted', 'n_asks', 'baseline_n_accepted', 'baseline_n_asks') }}
            end as double precision
        ) as p_value,
        cast(n_held as bigint) as n_held,
        cast(n_prospect as bigint) as n_prospect,
        cast(n_won as bigint) as n_won,
        cast(case when has_enough_asks then cast(n_held as double precision) / n_asks end as double precision)
            as held_rate,
        cast(case when has_enough_asks then cast(n_prospect as double precision) / n_asks end as double precision)
            as prospect_rate,
        cast(case when has_enough_asks then cast(n_won as double precision) / n_asks end as double precision)
            as won_rate
    from flagged
)

select * from final
