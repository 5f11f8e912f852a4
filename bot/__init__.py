"""Chat adapters: Telegram and Twilio payloads in, plain core types out, and back."""
