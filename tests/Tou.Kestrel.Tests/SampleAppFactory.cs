extern alias SampleWebApp;

using Microsoft.AspNetCore.Hosting;

namespace Tou.Kestrel.Tests;

/// <summary>
/// The sample web app (samples/Tou.Samples.WebApp) as its tests run it: its own Program, over TOU, with its own TOU port
/// and the console metrics exporter turned off through configuration, as a test of any app turns off what it does not want.
/// </summary>
public sealed class SampleAppFactory : TouWebApplicationFactory<SampleWebApp::Program>
{
    protected override void ConfigureWebHost(IWebHostBuilder builder)
    {
        builder.UseSetting("Sample:TouPort", string.Empty);
        builder.UseSetting("Sample:ConsoleMetrics", "false");
    }
}
