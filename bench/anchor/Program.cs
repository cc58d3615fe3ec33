// The bare floor of bench/run: ASP.NET Core's minimal API with no middleware at all,
// a plain text endpoint and a small JSON answer serialised from an object kept in memory,
// and /bytes/{n}: n bytes from memory, the floor for an answer as large as consent.js or config.
var builder = WebApplication.CreateBuilder(args);
builder.Logging.ClearProviders();
var app = builder.Build();
var answer = new Answer("sub_0123456789abcdefghijkl", "analytics", true, false);
app.MapGet("/plain", () => "OK");
app.MapGet("/json", () => answer);
var bodies = new System.Collections.Concurrent.ConcurrentDictionary<int, byte[]>();
app.MapGet("/bytes/{n:int:range(1,1048576)}", (int n) => Results.Bytes(bodies.GetOrAdd(n, size => System.Security.Cryptography.RandomNumberGenerator.GetBytes(size)), "text/javascript"));
app.Run();

internal sealed record Answer(string SubjectId, string Purpose, bool Granted, bool NeedsReconsent);
