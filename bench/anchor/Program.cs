// The bare floor of bench/run: ASP.NET Core's minimal API with no middleware at all,
// a plain text endpoint and a small JSON answer serialised from an object kept in memory.
var builder = WebApplication.CreateBuilder(args);
builder.Logging.ClearProviders();
var app = builder.Build();
var answer = new Answer("sub_0123456789abcdefghijkl", "analytics", true, false);
app.MapGet("/plain", () => "OK");
app.MapGet("/json", () => answer);
app.Run();

internal sealed record Answer(string SubjectId, string Purpose, bool Granted, bool NeedsReconsent);
