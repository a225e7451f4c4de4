"""The sandbox: a scenario-driven imitation of HubSpot, Calendly and a lead sheet, with ground truth."""
