-- p-chart limits: p_bar +/- 3 sqrt(p_bar (1 - p_bar) / n), clipped to [0, 1].
-- a check of the statistics macros on fixed values: development and CI only (tag `reference`, D30, D45)
{{ config(tags=['reference']) }}
with cases as (
    select * from (values
        (0.5, 100, 0.35, 0.65),
        (0.5, 4, 0.0, 1.0),
        (0.2, 400, 0.14, 0.26),
        (0.1, 9, 0.0, 0.4)
    ) as t (p_bar, n, expected_lcl, expected_ucl)
)

select *
from cases
where abs({{ p_chart_lcl('p_bar', 'n') }} - expected_lcl) > 1e-12
   or abs({{ p_chart_ucl('p_bar', 'n') }} - expected_ucl) > 1e-12
