using System.ComponentModel.DataAnnotations;

namespace ConsentService.Infrastructure;

/// <summary>Configuration section <c>Admin</c>.</summary>
public sealed class AdminOptions
{
    public const string Section = "Admin";

    /// <summary>The operator key that creates sites and may act as admin on any site.</summary>
    [MinLength(24)]
    public string? ApiKey { get; set; }
}

/// <summary>Configuration section <c>Storage</c>.</summary>
public sealed class StorageOptions
{
    public const string Section = "Storage";

    /// <summary>Folder for the embedded database and generated secrets (relative to the content root).</summary>
    [Required]
    public string DataDirectory { get; set; } = "data";
}

/// <summary>Configuration section <c>Demo</c>: the site seeded for <c>dotnet run</c>.</summary>
public sealed class DemoOptions
{
    public const string Section = "Demo";

    public bool Seed { get; set; }

    /// <summary>With <see cref="Seed"/>: give a brand-new demo site 60 days of made-up history (see <c>Demo/DemoHistory.cs</c>).</summary>
    public bool SeedHistory { get; set; }

    [RegularExpression("^[A-Za-z0-9_-]{1,64}$")]
    public string SiteId { get; set; } = "demo";
}
