"""What signing in and the policies refuse; the HTTP layer gives each its status."""

from app.errors import Forbidden, TooManyAttempts, Unauthenticated


class TokenMissing(Unauthenticated):
    detail = "Not signed in: send Authorization: Bearer with an access token"


class TokenRefused(Unauthenticated):
    """Malformed, expired, tampered with, signed with another key or algorithm, or its
    user is gone or deactivated: which, is not told."""

    detail = "Invalid or expired token"
    token_sent = True


class SignInFailed(Unauthenticated):
    """An unknown user and a wrong password alike (and a deactivated user)."""

    detail = "Incorrect username or password"


class RefreshRefused(Unauthenticated):
    detail = "Invalid or expired refresh token"
    token_sent = True


class AdminOnly(Forbidden):
    detail = "Only an admin may do this"


class TooManySignIns(TooManyAttempts):
    detail = "Too many failed sign-ins, try again later"
