"""adc training runtime (gradient checks; optimisers come with the runtime issue)."""
