using Microsoft.AspNetCore.Http.Features;
using Microsoft.AspNetCore.Http.Metadata;

namespace ConsentService.Infrastructure;

/// <summary>Per-endpoint request body cap, as endpoint metadata.</summary>
public sealed record BodySizeLimit(long? MaxRequestBodySize) : IRequestSizeLimitMetadata
{
    /// <summary>Policies with many locales are the largest bodies an admin sends.</summary>
    public const long DefaultBytes = 256 * 1024;
}

public static class BodySizeLimitMiddleware
{
    /// <summary>
    /// Answers 413 before reading when the declared length is over the endpoint's cap, and lowers
    /// the server's own cap so a body without a length is cut off at the same size.
    /// </summary>
    public static IApplicationBuilder UseBodySizeLimits(this IApplicationBuilder app) => app.Use(async (context, next) =>
    {
        var limit = context.GetEndpoint()?.Metadata.GetMetadata<IRequestSizeLimitMetadata>()?.MaxRequestBodySize ?? BodySizeLimit.DefaultBytes;
        if (context.Request.ContentLength > limit)
        {
            await Problems.PayloadTooLarge(limit).ExecuteAsync(context);
            return;
        }
        if (context.Features.Get<IHttpMaxRequestBodySizeFeature>() is { IsReadOnly: false } feature)
        {
            feature.MaxRequestBodySize = limit;
        }
        await next(context);
    });
}
