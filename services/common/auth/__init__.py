"""Accounts, shared by the API (services/api) and the ingestor's push server: roles, credential
formats and hashes (pure), the account store in Elasticsearch (thin) and the authenticator that
both HTTP faces ask, so a token revoked in one place is refused by every process within seconds.
"""
