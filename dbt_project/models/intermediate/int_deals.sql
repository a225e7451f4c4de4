/* grain: one row per deal, with the lead it belongs to */
select
    deals.deal_id,
    links.contact_id as lead_id,
    deals.created_at,
    deals.deal_stage,
    deals.deal_stage = 'closedwon' as is_won,
    deals.deal_stage = 'closedlost' as is_lost,
    case when deals.deal_stage = 'closedwon' then coalesce(deals.close_at, deals.updated_at) end as won_at,
    deals.amount,
    deals._loaded_at
from {{ ref('stg_hubspot__deals') }} as deals
left join {{ ref('int_contact_links') }} as links
    on links.from_type = 'deals' and links.from_id = deals.deal_id
