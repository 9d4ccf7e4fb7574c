"""CPR/AED cards: uploaded per certification's open cycle, submitted with their details, reviewed by staff."""
