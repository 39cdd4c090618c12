using System.Security.Claims;
using System.Text.Encodings.Web;
using System.Threading.RateLimiting;
using Microsoft.AspNetCore.Authentication;
using Microsoft.AspNetCore.Authorization;
using Microsoft.AspNetCore.Authorization.Infrastructure;
using Microsoft.AspNetCore.Authorization.Policy;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.HostFiltering;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.RateLimiting;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace LstmCluster.Hosting.Api;

/// <summary>
/// What guards the job API, all of it ASP.NET Core's own machinery: bearer tokens with roles (an authentication handler and
/// one authorization policy per role), host filtering, CORS only for the origins given, per-token rate limits, and a refusal
/// of cross-origin writes. <c>/health</c> and <c>/ready</c> stay open. The tokens can change while it runs
/// (<see cref="ApiTokenSource"/>); every change request and every refusal is logged under <see cref="AuditCategory"/>.
/// </summary>
internal static class ApiSecurity
{
    public const string Scheme = "Bearer";

    /// <summary>The claim holding the token's own role (the role claims hold every role it includes).</summary>
    public const string TokenRoleClaim = "lstmcluster:role";

    /// <summary>The log category of the audit lines: who (a token's name) did what (method, path) with what answer.</summary>
    public const string AuditCategory = "LstmCluster.Audit";

    private const string SubmitLimit = "submit";
    private const string ServingLimit = "serving";

    public static void AddApiSecurity(this IServiceCollection services, JobApiOptions options)
    {
        services.AddSingleton(new ApiTokenSource(options.Tokens));
        if (options.TokensFile is not null) services.AddHostedService<ApiTokensReloader>();
        services.AddAuthentication(Scheme).AddScheme<AuthenticationSchemeOptions, BearerTokenHandler>(Scheme, null);
        services.AddAuthorization(auth =>
        {
            foreach (var role in ApiRoles.All)
                auth.AddPolicy(role, p => p.AddAuthenticationSchemes(Scheme).RequireRole(role));
        });
        services.AddSingleton<IAuthorizationMiddlewareResultHandler, RoleAnswers>();
        if (options.CorsOrigins.Count > 0)
            services.AddCors(cors => cors.AddDefaultPolicy(p =>
            {
                if (options.CorsOrigins.Contains("*")) p.AllowAnyOrigin();
                else p.WithOrigins([.. options.CorsOrigins]);
                p.WithMethods("GET", "POST", "DELETE").WithHeaders("Authorization", "Content-Type", "Accept")
                    .WithExposedHeaders("Location", "Retry-After");
            }));
        var limits = options.RateLimits;
        bool limited = !options.Tokens.IsEmpty;
        services.AddRateLimiter(r =>
        {
            r.RejectionStatusCode = StatusCodes.Status429TooManyRequests;
            r.GlobalLimiter = PartitionedRateLimiter.Create<HttpContext, string>(context =>
                Bucket(context, limited && !IsOpen(context.Request.Path) && !IsServing(context.Request.Path), "requests", limits.RequestsPerSecond, limits.RequestBurst));
            r.AddPolicy(ServingLimit, context => Bucket(context, limited, "serving", limits.ServingPerSecond, limits.ServingBurst));
            r.AddPolicy(SubmitLimit, context => Bucket(context, limited, "submissions", limits.SubmissionsPerMinute / 60, limits.SubmissionBurst));
            r.OnRejected = async (rejected, ct) =>
            {
                var after = rejected.Lease.TryGetMetadata(MetadataName.RetryAfter, out var wait) ? wait : TimeSpan.FromSeconds(1);
                int seconds = Math.Max(1, (int)Math.Ceiling(after.TotalSeconds));
                rejected.HttpContext.Response.Headers.RetryAfter = seconds.ToString(System.Globalization.CultureInfo.InvariantCulture);
                string who = rejected.HttpContext.User.Identity is { IsAuthenticated: true, Name: { } name } ? $"token '{name}'" : "this client";
                await JobApiExtensions.Error(StatusCodes.Status429TooManyRequests, $"too many requests for {who}: retry after {seconds} s")
                    .ExecuteAsync(rejected.HttpContext);
            };
        });
    }

    /// <summary>The middleware, in the order it must run: Host first, then routing, CORS, who is calling, their limit, what they may do.</summary>
    public static void UseApiSecurity(this WebApplication app, JobApiOptions options)
    {
        // ASP.NET Core's host filtering with options of its own: the host's global filter (which the web host defaults add in front
        // of everything, /health included) stays as configured there, allowing any host unless told otherwise.
        var hosts = new FixedOptions<HostFilteringOptions>(new HostFilteringOptions
        {
            AllowedHosts = [.. options.AllowedHosts.Select(NormalizeHost)],
            IncludeFailureMessage = false,
        });
        app.UseWhen(context => !IsOpen(context.Request.Path), branch => branch.UseMiddleware<HostFilteringMiddleware>(hosts));
        app.UseRouting();
        var audit = app.Services.GetRequiredService<ILoggerFactory>().CreateLogger(AuditCategory);
        app.Use((context, next) => Audited(context, next, audit));
        if (options.CorsOrigins.Count > 0) app.UseCors();
        app.Use((context, next) => SameOriginWrites(context, next, options));
        app.UseAuthentication();
        app.UseRateLimiter();
        app.UseAuthorization();
    }

    /// <summary>Marks an endpoint as a submission: it counts against the tighter submission limit too.</summary>
    public static TBuilder LimitedAsSubmission<TBuilder>(this TBuilder builder) where TBuilder : IEndpointConventionBuilder =>
        builder.RequireRateLimiting(SubmitLimit);

    /// <summary>Marks an endpoint as serving: its own, higher, limit instead of the per-request one.</summary>
    public static TBuilder LimitedAsServing<TBuilder>(this TBuilder builder) where TBuilder : IEndpointConventionBuilder =>
        builder.RequireRateLimiting(ServingLimit);

    /// <summary>
    /// After the answer: a line for every request that changes something (POST, DELETE; forecasts from a served model aside,
    /// they change nothing) and for every refusal (401, 403), naming the caller by its token's name, never by the token.
    /// </summary>
    private static async Task Audited(HttpContext context, RequestDelegate next, ILogger audit)
    {
        await next(context);
        var request = context.Request;
        int status = context.Response.StatusCode;
        bool refused = status is StatusCodes.Status401Unauthorized or StatusCodes.Status403Forbidden;
        bool change = !(HttpMethods.IsGet(request.Method) || HttpMethods.IsHead(request.Method) || HttpMethods.IsOptions(request.Method))
            && !IsServing(request.Path);
        if (IsOpen(request.Path) || !(refused || change)) return;
        string caller = context.User.Identity is { IsAuthenticated: true, Name: { } name }
            ? $"token '{name}' ({context.User.FindFirst(TokenRoleClaim)?.Value})"
            : context.User.Identity is { IsAuthenticated: true } ? "the open API" : $"no accepted token, from {context.Connection.RemoteIpAddress}";
        audit.Log(refused ? LogLevel.Warning : LogLevel.Information, "{Method} {Path} by {Caller}: {Status}",
            request.Method, Bounded(request.Path.Value ?? ""), caller, status);
    }

    private static bool IsServing(PathString path) => path.StartsWithSegments("/models", StringComparison.OrdinalIgnoreCase);

    /// <summary>Health, readiness and metrics (probes and Prometheus call them by address, with no token) and the OpenAPI document.</summary>
    private static bool IsOpen(PathString path) =>
        path.Equals("/health", StringComparison.OrdinalIgnoreCase) || path.Equals("/ready", StringComparison.OrdinalIgnoreCase)
        || path.Equals("/metrics", StringComparison.OrdinalIgnoreCase)
        || path.StartsWithSegments("/openapi", StringComparison.OrdinalIgnoreCase);

    private static RateLimitPartition<string> Bucket(HttpContext context, bool limited, string kind, double perSecond, int burst)
    {
        if (!limited || perSecond <= 0) return RateLimitPartition.GetNoLimiter("");
        // A caller without an accepted token is limited by address: guessing tokens is as slow as using one.
        string key = context.User.Identity is { IsAuthenticated: true, Name: { } name } ? $"{kind}:token:{name}"
            : $"{kind}:client:{context.Connection.RemoteIpAddress}";
        // Whole tokens per period: 20/s is 2 every 100 ms, 30/min is 1 every 2 s.
        int perPeriod = Math.Max(1, (int)Math.Round(perSecond / 10));
        var period = TimeSpan.FromSeconds(perPeriod / perSecond);
        return RateLimitPartition.GetTokenBucketLimiter(key, _ => new TokenBucketRateLimiterOptions
        {
            TokenLimit = Math.Max(1, burst),
            TokensPerPeriod = perPeriod,
            ReplenishmentPeriod = period,
            QueueLimit = 0,
            AutoReplenishment = true,
        });
    }

    /// <summary>
    /// A POST or DELETE a browser sends from a page of another origin carries that <c>Origin</c>: refused unless CORS allows it.
    /// A form post needs no preflight, so this (with url-encoded bodies refused) is what keeps a web page from submitting or
    /// deleting jobs on an open API through the user's browser. Programs (the CLI, curl) send no Origin.
    /// </summary>
    private static Task SameOriginWrites(HttpContext context, RequestDelegate next, JobApiOptions options)
    {
        var request = context.Request;
        if (HttpMethods.IsGet(request.Method) || HttpMethods.IsHead(request.Method) || HttpMethods.IsOptions(request.Method)) return next(context);
        string? origin = request.Headers.Origin;
        if (string.IsNullOrEmpty(origin)) return next(context);
        bool same = Uri.TryCreate(origin, UriKind.Absolute, out var o)
            && string.Equals(o.Authority, request.Host.Value, StringComparison.OrdinalIgnoreCase);
        bool allowed = options.CorsOrigins.Contains("*")
            || options.CorsOrigins.Any(c => string.Equals(c.TrimEnd('/'), origin, StringComparison.OrdinalIgnoreCase));
        if (same || allowed) return next(context);
        return JobApiExtensions.Error(StatusCodes.Status403Forbidden,
            $"a {request.Method} from the web origin {Bounded(origin)} is refused (not in the node's --cors-origins)").ExecuteAsync(context);
    }

    /// <summary>A host as the filter compares it: a bare IPv6 address in brackets, as it appears in a Host header.</summary>
    private static string NormalizeHost(string host)
    {
        string h = host.Trim();
        return h.Contains(':') && !h.StartsWith('[') && System.Net.IPAddress.TryParse(h, out var ip) && ip.AddressFamily == System.Net.Sockets.AddressFamily.InterNetworkV6
            ? $"[{h}]" : h;
    }

    private static string Bounded(string text) => text.Length <= 80 ? text : text[..80] + "...";

    /// <summary>
    /// Reads <c>Authorization: Bearer TOKEN</c>. No tokens configured: every caller is an anonymous admin (the open API of a
    /// loopback node). A 401 says only that the token is missing or not accepted, never why.
    /// </summary>
    private sealed class BearerTokenHandler(IOptionsMonitor<AuthenticationSchemeOptions> options, ILoggerFactory logger, UrlEncoder encoder,
        ApiTokenSource source) : AuthenticationHandler<AuthenticationSchemeOptions>(options, logger, encoder)
    {
        protected override Task<AuthenticateResult> HandleAuthenticateAsync()
        {
            var tokens = source.Current;
            if (tokens.IsEmpty) return Task.FromResult(Success(null, ApiRoles.Admin));
            string? header = Request.Headers.Authorization;
            if (string.IsNullOrWhiteSpace(header)) return Task.FromResult(AuthenticateResult.NoResult());
            const string prefix = "Bearer ";
            var token = header.StartsWith(prefix, StringComparison.OrdinalIgnoreCase) ? tokens.Find(header[prefix.Length..].Trim()) : null;
            return Task.FromResult(token is null ? AuthenticateResult.Fail("token not accepted") : Success(token.Name, token.Role));
        }

        private AuthenticateResult Success(string? name, string role)
        {
            var claims = new List<Claim> { new(TokenRoleClaim, role) };
            if (name is not null) claims.Add(new Claim(ClaimTypes.Name, name));
            claims.AddRange(ApiRoles.Granted(role).Select(r => new Claim(ClaimTypes.Role, r)));
            var principal = new ClaimsPrincipal(new ClaimsIdentity(claims, ApiSecurity.Scheme));
            return AuthenticateResult.Success(new AuthenticationTicket(principal, ApiSecurity.Scheme));
        }

        protected override Task HandleChallengeAsync(AuthenticationProperties properties)
        {
            bool given = !string.IsNullOrWhiteSpace(Request.Headers.Authorization);
            Response.Headers.WWWAuthenticate = given ? "Bearer error=\"invalid_token\"" : "Bearer";
            return JobApiExtensions.Error(StatusCodes.Status401Unauthorized, given
                    ? "the bearer token was not accepted"
                    : "a bearer token is needed (Authorization: Bearer TOKEN)")
                .ExecuteAsync(Context);
        }
    }

    /// <summary>A 403 names the role the endpoint needs and the role the token has; everything else as ASP.NET Core does it.</summary>
    private sealed class RoleAnswers : IAuthorizationMiddlewareResultHandler
    {
        private readonly AuthorizationMiddlewareResultHandler standard = new();

        public Task HandleAsync(RequestDelegate next, HttpContext context, AuthorizationPolicy policy, PolicyAuthorizationResult result)
        {
            if (!result.Forbidden) return standard.HandleAsync(next, context, policy, result);
            // The group's read and the endpoint's submit combine into one policy: name the requirement that failed.
            var failed = result.AuthorizationFailure?.FailedRequirements.OfType<RolesAuthorizationRequirement>()
                ?? policy.Requirements.OfType<RolesAuthorizationRequirement>();
            string needed = failed.SelectMany(r => r.AllowedRoles).LastOrDefault() ?? ApiRoles.Admin;
            return Forbidden(context, $"this needs role {needed}").ExecuteAsync(context);
        }
    }

    /// <summary>Options that never change, for a middleware instance of our own.</summary>
    private sealed class FixedOptions<T>(T value) : IOptionsMonitor<T>
    {
        public T CurrentValue => value;

        public T Get(string? name) => value;

        public IDisposable? OnChange(Action<T, string?> listener) => null;
    }

    /// <summary>A 403 naming what was needed and what the caller's token is.</summary>
    public static IResult Forbidden(HttpContext context, string what)
    {
        var user = context.User;
        string has = user.FindFirst(TokenRoleClaim)?.Value ?? "none";
        string who = user.Identity?.Name is { } name ? $"the token '{name}' has role {has}" : $"the caller has role {has}";
        return JobApiExtensions.Error(StatusCodes.Status403Forbidden, $"{what} ({who})");
    }
}
