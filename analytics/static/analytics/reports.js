// The 数据 section's charts: each chart's ECharts option is built by the server
// (analytics.admin.reports) and handed over in the json_script "report-charts".
'use strict';
{
    const charts = JSON.parse(document.getElementById('report-charts').textContent);
    const style = getComputedStyle(document.documentElement);
    const colour = (name, fallback) => style.getPropertyValue(name).trim() || fallback;
    const text = colour('--body-quiet-color', '#666');
    const palette = [colour('--primary', '#2563eb'), colour('--console-accent', '#f59e0b'),
                     '#10b981', '#ef4444', '#8b5cf6', '#06b6d4', '#f97316', '#64748b'];
    const drawn = charts.map(({key, option}) => {
        const chart = echarts.init(document.getElementById(`chart-${key}`));
        chart.setOption({animation: false, color: palette, textStyle: {color: text,
            fontFamily: style.getPropertyValue('--font-family-primary')}, ...option});
        return chart;
    });
    window.addEventListener('resize', () => drawn.forEach((chart) => chart.resize()));
}
