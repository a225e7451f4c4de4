-- Two-proportion z-test p-value and Newcombe's interval for the difference against an independent
-- computation. Cialdini et al. 1975 exp. 1 sizes: 18/36 after a refusal vs 6/36 direct.
-- a check of the statistics macros on fixed values: development and CI only (tag `reference`, D30, D45)
{{ config(tags=['reference']) }}
with cases as (
    select * from (values
        (18, 36, 6, 36, 0.002699796063260186, 0.11588894181549661, 0.5117766132411496),
        (500, 1000, 167, 1000, 0.0, 0.2936150478735527, 0.3708601196236408),
        (30, 100, 25, 100, 0.4284728804428174, -0.07339608028600599, 0.17142623768171023)
    ) as t (x1, n1, x2, n2, expected_p, expected_low, expected_high)
)

select *
from cases
where abs({{ two_proportion_p_value('x1', 'n1', 'x2', 'n2') }} - expected_p) > 3e-7
   or abs({{ diff_ci_low('x1', 'n1', 'x2', 'n2') }} - expected_low) > 1e-9
   or abs({{ diff_ci_high('x1', 'n1', 'x2', 'n2') }} - expected_high) > 1e-9
