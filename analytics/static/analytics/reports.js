// The 数据 section's charts: each chart's ECharts option is built by the server
// (analytics.admin.reports) and handed over in the json_script "report-charts". A chart that
// draws on a map names it and the mall's own URL of its GeoJSON (vendor/README.md): the file is
// fetched once and registered with echarts.registerMap before that chart is drawn.
'use strict';
{
    const charts = JSON.parse(document.getElementById('report-charts').textContent);
    const style = getComputedStyle(document.documentElement);
    const colour = (name, fallback) => style.getPropertyValue(name).trim() || fallback;
    const text = colour('--body-quiet-color', '#666');
    const palette = [colour('--primary', '#2563eb'), colour('--console-accent', '#f59e0b'),
                     '#10b981', '#ef4444', '#8b5cf6', '#06b6d4', '#f97316', '#64748b'];
    const maps = new Map();
    const mapReady = ({name, url}) => {
        if (!maps.has(name)) {
            maps.set(name, echarts.getMap(name) ? Promise.resolve() : fetch(url, {credentials: 'same-origin'})
                .then((response) => {
                    if (!response.ok) throw new Error(`map ${name}: HTTP ${response.status}`);
                    return response.json();
                })
                .then((geoJson) => echarts.registerMap(name, geoJson)));
        }
        return maps.get(name);
    };
    const drawn = [];
    const draw = ({key, option}) => {
        const chart = echarts.init(document.getElementById(`chart-${key}`));
        chart.setOption({animation: false, color: palette, textStyle: {color: text,
            fontFamily: style.getPropertyValue('--font-family-primary')}, ...option});
        drawn.push(chart);
    };
    charts.forEach((chart) => {
        if (chart.map) {
            mapReady(chart.map).then(() => draw(chart), (error) => {
                document.getElementById(`chart-${chart.key}`).textContent = '地图数据加载失败，请看下方表格';
                console.error(error);
            });
        } else {
            draw(chart);
        }
    });
    window.addEventListener('resize', () => drawn.forEach((chart) => chart.resize()));
}
