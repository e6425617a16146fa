using System.Diagnostics.Metrics;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.Options;
using Tou.Transport;

namespace Tou.Kestrel;

/// <summary>
/// What a host supplies to <see cref="TouTransportOptions"/>, as it does for Kestrel's options: first the configuration's
/// <c>"Tou"</c> section (before the callbacks given to <c>UseTou</c> and <c>AddTouConnectionFactory</c>, which win), and
/// last the host's <see cref="IMeterFactory"/> where none was set.
/// </summary>
internal sealed class TouOptionsSetup(IConfiguration? configuration = null, IMeterFactory? meterFactory = null)
    : IConfigureOptions<TouTransportOptions>, IPostConfigureOptions<TouTransportOptions>
{
    public void Configure(TouTransportOptions options)
    {
        configuration?.GetSection(TouHostingExtensions.ConfigurationSectionName).Bind(options);
    }

    public void PostConfigure(string? name, TouTransportOptions options)
    {
        options.MeterFactory ??= meterFactory;
    }
}
