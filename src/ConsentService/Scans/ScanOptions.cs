using System.ComponentModel.DataAnnotations;

namespace ConsentService.Scans;

/// <summary>Configuration section <c>Scan</c>: the tracker scanner's browser and limits.</summary>
public sealed class ScanOptions
{
    public const string Section = "Scan";

    /// <summary>Debian's <c>chromium</c> package; never a downloaded browser.</summary>
    [Required]
    public string ChromiumPath { get; set; } = "/usr/bin/chromium";

    /// <summary>Lets the browser reach loopback, private and link-local addresses (tests; a scanner inside your network).</summary>
    public bool AllowPrivateNetworks { get; set; }

    /// <summary>Private networks (CIDR, e.g. <c>127.0.0.1/32</c>) the browser may reach although <see cref="AllowPrivateNetworks"/> is off.</summary>
    public List<string> AllowedPrivateNetworks { get; set; } = [];

    /// <summary>
    /// Host names the scan resolves to a fixed address (<c>shop.test=127.0.0.1</c>), for testing: the address
    /// check resolves every name, and the browser's connections go where it resolved them (<see cref="PinnedProxy"/>).
    /// </summary>
    public Dictionary<string, string> HostMap { get; set; } = [];

    [Range(1, ScanRules.MaxPages)]
    public int MaxPages { get; set; } = 25;

    /// <summary>A scan stops after this long, keeping the pages it has done.</summary>
    [Range(typeof(TimeSpan), "00:00:05", "06:00:00")]
    public TimeSpan MaxDuration { get; set; } = TimeSpan.FromMinutes(10);

    /// <summary>How long one page may take to load in one profile.</summary>
    [Range(typeof(TimeSpan), "00:00:01", "00:05:00")]
    public TimeSpan PageTimeout { get; set; } = TimeSpan.FromSeconds(20);

    /// <summary>How long to let a page's scripts run after it loaded and after a banner click.</summary>
    [Range(typeof(TimeSpan), "00:00:00", "00:01:00")]
    public TimeSpan Settle { get; set; } = TimeSpan.FromSeconds(2);

    /// <summary>How long to wait for the site's banner before recording "banner not found".</summary>
    [Range(typeof(TimeSpan), "00:00:00", "00:01:00")]
    public TimeSpan BannerTimeout { get; set; } = TimeSpan.FromSeconds(5);
}
