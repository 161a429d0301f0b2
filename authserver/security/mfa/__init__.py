"""The second factor: its codes (TOTP, recovery codes), enrolment and use, and the sign-in step."""
