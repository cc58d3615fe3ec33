namespace ConsentService.Policies;

/// <summary>The template every new site starts with: the four purposes and the vendors most sites use.</summary>
public static class DefaultPolicy
{
    public static PolicyContent Content { get; } = new(
        [
            new Purpose("necessary", Required: true, LegalBasis.LegitimateInterest,
            [
                new Vendor("ConsentService", null, ["consent_*"]), // the snippet's cookie consent_<siteId>
            ]),
            new Purpose("analytics", Required: false, LegalBasis.Consent,
            [
                // PostHog keeps its distinct id in a cookie and in localStorage, ph_<project key>_posthog.
                new Vendor("PostHog", "https://posthog.com/privacy", ["ph_*_posthog"], ["ph_*_posthog"]),
                new Vendor("Google Analytics", "https://policies.google.com/privacy", ["_ga", "_ga_*"]),
                new Vendor("Sentry", "https://sentry.io/privacy/", []),
                new Vendor("Axiom", "https://axiom.co/privacy", []),
            ]),
            new Purpose("marketing", Required: false, LegalBasis.Consent,
            [
                // Every Hotjar cookie and storage key starts with _hj; Google Ads' click ids with _gcl_ (_gcl_au, _gcl_aw…).
                new Vendor("Hotjar", "https://www.hotjar.com/legal/policies/privacy/", ["_hj*"], ["_hj*"]),
                new Vendor("Google Ads", "https://policies.google.com/privacy", ["_gcl_*"]),
            ]),
            new Purpose("model_improvement", Required: false, LegalBasis.Consent, []),
        ],
        new Dictionary<string, PolicyTexts>
        {
            ["en"] = new(
                "We value your privacy",
                "We use cookies and similar technologies. Necessary ones keep the site working. With your consent we also use them to measure use of the site, for marketing, and to improve our models with your data. You can change your choice at any time from the link at the bottom of every page.",
                "Accept all",
                "Reject all",
                "Preferences",
                "Save choices",
                new Dictionary<string, PurposeTexts>
                {
                    ["necessary"] = new("Necessary", "Needed for the site to work and to remember your choice. Always on."),
                    ["analytics"] = new("Analytics", "Counts visits and measures how the site is used, so we can improve it."),
                    ["marketing"] = new("Marketing", "Personalises ads and measures campaigns, on this site and others."),
                    ["model_improvement"] = new("Model improvement", "Uses your data and content to improve and train our models."),
                }),
            ["de"] = new(
                "Ihre Privatsphäre ist uns wichtig",
                "Wir verwenden Cookies und ähnliche Technologien. Notwendige halten die Website in Betrieb. Mit Ihrer Einwilligung nutzen wir sie auch zur Reichweitenmessung, für Marketing und um unsere Modelle mit Ihren Daten zu verbessern. Sie können Ihre Wahl jederzeit über den Link am Ende jeder Seite ändern.",
                "Alle akzeptieren",
                "Alle ablehnen",
                "Einstellungen",
                "Auswahl speichern",
                new Dictionary<string, PurposeTexts>
                {
                    ["necessary"] = new("Notwendig", "Für den Betrieb der Website und zum Speichern Ihrer Wahl nötig. Immer aktiv."),
                    ["analytics"] = new("Statistik", "Zählt Besuche und misst die Nutzung der Website, damit wir sie verbessern können."),
                    ["marketing"] = new("Marketing", "Personalisiert Werbung und misst Kampagnen, hier und auf anderen Websites."),
                    ["model_improvement"] = new("Modellverbesserung", "Nutzt Ihre Daten und Inhalte, um unsere Modelle zu verbessern und zu trainieren."),
                }),
        },
        PrivacyPolicyUrl: null);
}
