"""Sign in and sign out."""

from __future__ import annotations

from flask import Blueprint, flash, redirect, render_template, request, session, url_for
from flask_babel import gettext as _
from flask_login import login_required, login_user, logout_user
from werkzeug.wrappers import Response

from caseflow.services import auth as auth_service
from caseflow.views import actor

bp = Blueprint("auth", __name__)


@bp.route("/login", methods=["GET", "POST"])
def login() -> str | Response:
    """Show the sign-in form; sign in on a correct username and password."""
    error = None
    username = request.form.get("username", "")
    if request.method == "POST":
        user = auth_service.authenticate(username, request.form.get("password", ""), actor())
        if user is not None:
            session.clear()  # a new session id at sign-in
            login_user(user)
            auth_service.signed_in(user, actor())
            target = request.args.get("next", "")
            if not target.startswith("/") or target.startswith("//"):
                target = url_for("main.home")
            return redirect(target)
        error = _("Wrong username or password.")
    return render_template("login.html", error=error, username=username)


@bp.route("/logout", methods=["POST"])
@login_required
def logout() -> Response:
    """Sign out."""
    auth_service.signed_out(actor())
    logout_user()
    session.clear()
    flash(_("You have signed out. Close the browser on a shared computer."))
    return redirect(url_for("auth.login"))
