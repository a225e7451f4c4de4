{#- The columns of an outbound ask engagement (HubSpot calls and emails share them: data-contract.md §1). -#}
{% macro ask_engagement_columns(engagement_type) %}
        record_id as engagement_id,
        '{{ engagement_type }}' as engagement_type,
        {{ to_utc("payload ->> 'createdAt'") }} as created_at,
        {{ to_utc("payload ->> 'updatedAt'") }} as updated_at,
        coalesce(
            {{ to_utc("payload -> 'properties' ->> 'hs_timestamp'") }},
            {{ to_utc("payload ->> 'createdAt'") }}
        ) as sent_at,
        nullif(payload -> 'properties' ->> 'hubspot_owner_id', '') as owner_id,
        nullif(lower(payload -> 'properties' ->> 'ask_type'), '') as ask_type,
        nullif(lower(payload -> 'properties' ->> 'ask_alternative'), '') as ask_alternative,
        nullif(lower(payload -> 'properties' ->> 'ask_outcome'), '') as ask_outcome,
        {{ to_utc("payload -> 'properties' ->> 'ask_outcome_at'") }} as ask_outcome_at,
        payload -> 'associations' -> 'contacts' -> 'results' -> 0 ->> 'id' as inline_contact_id,
        version_at,
        _loaded_at,
        is_deleted,
        record_hash
{% endmacro %}
