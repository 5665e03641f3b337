"""What csms, gateway, recorder and the simulators share: settings, models, storage layout."""
