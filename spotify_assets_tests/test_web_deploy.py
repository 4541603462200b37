"""The dashboard's AWS deployment: its CloudFormation template (cfn-lint, sign-in on every route,
throttling, a read-only role, the page's security headers), the Lambda's zip (it runs with no
Dagster, pyarrow or DuckDB) and the site's files."""

import json
import os
import subprocess
import sys
import sysconfig
import zipfile

from cfnlint.api import lint_file

from spotify_assets.web import tables
from spotify_assets.web.bundle import build_lambda_zip, build_site
from spotify_assets.web.page import (
    CHART_JS_FILE,
    CHART_JS_INTEGRITY,
    CHART_JS_URL,
    content_security_policy,
    static_files,
)
from spotify_assets_tests.web_support import TEMPLATE, load_template, resources, role_statements

COGNITO_DOMAIN = "https://${AuthDomainPrefix}.auth.${AWS::Region}.amazoncognito.com"
# Everything the read API's role may do: read, and write its own logs.
READ_ONLY_ACTIONS = {
    "dynamodb:BatchGetItem",
    "dynamodb:GetItem",
    "dynamodb:Query",
    "s3:GetObject",
    "s3:ListBucket",
    "logs:CreateLogStream",
    "logs:PutLogEvents",
}


def test_the_template_passes_cfn_lint():
    assert [str(match) for match in lint_file(TEMPLATE)] == []


def test_every_api_route_needs_a_cognito_token_and_the_api_is_throttled():
    template = load_template()
    routes = resources(template, "AWS::ApiGatewayV2::Route")
    assert routes
    for route in routes.values():
        assert route["AuthorizationType"] == "JWT"
        assert route["AuthorizerId"] == {"Ref": "ApiAuthorizer"}
        assert route["RouteKey"].startswith("GET /api/")
    [authorizer] = resources(template, "AWS::ApiGatewayV2::Authorizer").values()
    assert authorizer["AuthorizerType"] == "JWT"
    assert authorizer["JwtConfiguration"]["Audience"] == [{"Ref": "UserPoolClient"}]
    assert "cognito-idp" in authorizer["JwtConfiguration"]["Issuer"]["Fn::Sub"]
    [stage] = resources(template, "AWS::ApiGatewayV2::Stage").values()
    assert stage["DefaultRouteSettings"] == {
        "ThrottlingRateLimit": {"Ref": "ThrottlingRateLimit"},
        "ThrottlingBurstLimit": {"Ref": "ThrottlingBurstLimit"},
    }


def test_no_password_or_secret_anywhere():
    template = load_template()
    [client] = resources(template, "AWS::Cognito::UserPoolClient").values()
    assert client["GenerateSecret"] is False
    assert client["AllowedOAuthFlows"] == ["code"]  # with PKCE, from the page
    assert "ALLOW_USER_PASSWORD_AUTH" not in client["ExplicitAuthFlows"]
    [pool] = resources(template, "AWS::Cognito::UserPool").values()
    assert pool["AdminCreateUserConfig"]["AllowAdminCreateUserOnly"] is True
    assert not [
        name
        for name in template["Parameters"]
        if "password" in name.lower() or "secret" in name.lower()
    ]
    assert not resources(template, "AWS::Cognito::UserPoolUser")


def test_the_read_apis_role_only_reads():
    statements = role_statements(load_template())
    actions = {a for s in statements for a in s["Action"]}
    assert actions <= READ_ONLY_ACTIONS
    assert all(s["Effect"] == "Allow" for s in statements)
    text = json.dumps(statements)
    assert '"*"' not in text and "dynamodb:Scan" not in text


def test_the_role_names_every_table_and_index_the_api_reads():
    statements = role_statements(load_template())
    granted = {
        resource["Fn::Sub"].split(":table/")[1]
        for statement in statements
        for resource in statement["Resource"]
        if isinstance(resource, dict) and ":table/" in resource["Fn::Sub"]
    }
    expected = {f"${{TablePrefix}}{table}" for table in [*tables.COLUMNS, tables.PLAYLIST_VERSIONS]}
    expected |= {
        f"${{TablePrefix}}{table}/index/{name}" for (table, _), name in tables.INDEXES.items()
    }
    expected.add(f"${{TablePrefix}}{tables.PLAYLIST_ENTRIES}/index/{tables.ENTRIES_IN_ORDER}")
    assert granted == expected


def test_cloudfront_sends_the_same_content_security_policy_as_the_app():
    [policy] = resources(load_template(), "AWS::CloudFront::ResponseHeadersPolicy").values()
    headers = policy["ResponseHeadersPolicyConfig"]["SecurityHeadersConfig"]
    expected = content_security_policy((COGNITO_DOMAIN,))
    assert headers["ContentSecurityPolicy"]["ContentSecurityPolicy"] == {"Fn::Sub": expected}
    assert headers["ContentSecurityPolicy"]["Override"] is True


def test_cloudfront_routes_the_api_uncached_with_its_authorization_header():
    [distribution] = resources(load_template(), "AWS::CloudFront::Distribution").values()
    [api] = distribution["DistributionConfig"]["CacheBehaviors"]
    assert api["PathPattern"] == "/api/*" and api["TargetOriginId"] == "api"
    assert api["CachePolicyId"] == "4135ea2d-6df8-44a3-9df3-4b5a84be39ad"  # CachingDisabled
    # AllViewerExceptHostHeader: forwards Authorization when caching is disabled.
    assert api["OriginRequestPolicyId"] == "b689b0a8-53d0-40ab-baf2-68738e2966ac"
    default = distribution["DistributionConfig"]["DefaultCacheBehavior"]
    assert default["ViewerProtocolPolicy"] == "redirect-to-https"


def test_the_lambda_gets_the_deployments_variables_and_our_handler():
    [function] = resources(load_template(), "AWS::Lambda::Function").values()
    assert function["Handler"] == "spotify_assets.web.lambda_handler.handler"
    assert set(function["Environment"]["Variables"]) == {
        "SPOTIFY_ASSETS_ENV",
        "SPOTIFY_ASSETS_S3_BUCKET",
        "SPOTIFY_ASSETS_S3_PREFIX",
        "SPOTIFY_ASSETS_DYNAMODB_TABLE_PREFIX",
    }


# --- what gets uploaded ------------------------------------------------------------------------

HEAVY = ("dagster", "pyarrow", "duckdb", "pandas", "numpy", "uvicorn", "playwright")
RUN_FROM_ZIP = f"""
import importlib.abc, json, sys
task, site_packages, event = sys.argv[1], sys.argv[2], json.loads(sys.argv[3])


class NotInTheLambda(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path, target=None):
        if name.split(".")[0] in {HEAVY!r}:
            raise ImportError(name + " is not in the Lambda's zip")


sys.meta_path.insert(0, NotInTheLambda())
sys.path[:0] = [task]
sys.path.append(site_packages)  # boto3, which Lambda's runtime provides
from spotify_assets.web import lambda_handler
import mangum, starlette
assert all(m.__file__.startswith(task) for m in (lambda_handler, mangum, starlette))
print(json.dumps(lambda_handler.handler(event, None)))
"""


def test_the_lambda_zip_runs_the_api_without_dagster_or_pyarrow(tmp_path):
    archive = tmp_path / "read-api.zip"
    names = build_lambda_zip(archive)
    assert "spotify_assets/web/lambda_handler.py" in names
    assert "spotify_assets/web/static/app.js" in names
    assert not [n for n in names if n.split("/")[0] in HEAVY or "node_modules" in n]
    assert not [n for n in names if "vendor" in n]  # the site has Chart.js, the Lambda needs none
    assert archive.stat().st_size < 1_500_000
    assert zipfile.ZipFile(archive).namelist() == names
    assert build_lambda_zip(tmp_path / "again.zip") == names
    assert (tmp_path / "again.zip").read_bytes() == archive.read_bytes()  # reproducible

    event = {
        "version": "2.0",
        "routeKey": "GET /api/{proxy+}",
        "rawPath": "/api/playlists",
        "rawQueryString": "",
        "headers": {"host": "api.example.test", "x-forwarded-proto": "https"},
        "requestContext": {
            "http": {"method": "GET", "path": "/api/playlists", "sourceIp": "203.0.113.7"},
            "stage": "$default",
        },
        "isBase64Encoded": False,
    }
    environment = {
        "PATH": os.environ.get("PATH", ""),
        "SPOTIFY_ASSETS_ENV": "local",
        "SPOTIFY_ASSETS_DATA_DIR": str(tmp_path / "empty"),
    }
    # Lambda runs the zip unpacked, from /var/task.
    task = tmp_path / "task"
    zipfile.ZipFile(archive).extractall(task)
    site_packages = sysconfig.get_paths()["purelib"]
    result = subprocess.run(
        [sys.executable, "-S", "-c", RUN_FROM_ZIP, str(task), site_packages, json.dumps(event)],
        capture_output=True,
        text=True,
        env=environment,
        cwd=tmp_path,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    response = json.loads(result.stdout)
    assert response["statusCode"] == 200
    assert json.loads(response["body"])["playlists"] == []


def test_the_site_holds_the_page_its_files_and_the_shipped_chart_js(tmp_path):
    auth = {"domain": "https://x.auth.eu-west-1.amazoncognito.com", "client_id": "c"}
    written = build_site(tmp_path, auth)
    static = [url.lstrip("/") for url in static_files()]
    assert written == sorted(["index.html", "config.json", *static])
    assert (tmp_path / CHART_JS_URL.lstrip("/")).read_bytes() == CHART_JS_FILE.read_bytes()
    page = (tmp_path / "index.html").read_text()
    assert f'<script src="{CHART_JS_URL}" integrity="{CHART_JS_INTEGRITY}" defer>' in page
    assert "://" not in page
    assert json.loads((tmp_path / "config.json").read_text()) == {"auth": auth}
