"""Every write of the campaigns app: certificates, reviews, nightly jobs, notifications."""
