// The console home's trend charts: paid orders, and paid and net sales, over 7 or 30 days.
// Data comes from the page (json_script "trend-data", built by analytics.admin.dashboard.trend_series).
'use strict';
{
    const data = JSON.parse(document.getElementById('trend-data').textContent);
    const style = getComputedStyle(document.documentElement);
    const colour = (name, fallback) => style.getPropertyValue(name).trim() || fallback;
    const primary = colour('--primary', '#2563eb');
    const accent = colour('--console-accent', '#f59e0b');
    const text = colour('--body-quiet-color', '#666');
    const line = colour('--hairline-color', '#e5e7eb');
    const axis = {axisLabel: {color: text}, axisLine: {lineStyle: {color: line}}, splitLine: {lineStyle: {color: line}}};
    const base = {
        animation: false,
        grid: {left: 56, right: 16, top: 32, bottom: 28},
        tooltip: {trigger: 'axis'},
        textStyle: {fontFamily: style.getPropertyValue('--font-family-primary')},
    };
    const orders = echarts.init(document.getElementById('chart-orders'));
    const sales = echarts.init(document.getElementById('chart-sales'));

    function draw(days) {
        const from = data.days.length - days;
        const x = {type: 'category', data: data.days.slice(from), ...axis, splitLine: {show: false}};
        orders.setOption({
            ...base,
            xAxis: x,
            yAxis: {type: 'value', minInterval: 1, ...axis},
            series: [{name: '付款订单', type: 'bar', data: data.paid_orders.slice(from), itemStyle: {color: primary},
                      barMaxWidth: 28}],
        }, true);
        sales.setOption({
            ...base,
            legend: {top: 0, right: 0, textStyle: {color: text}},
            xAxis: x,
            yAxis: {type: 'value', ...axis},
            series: [
                {name: '成交额', type: 'line', data: data.paid_yuan.slice(from).map(Number), itemStyle: {color: primary}},
                {name: '净销售额', type: 'line', data: data.net_yuan.slice(from).map(Number), itemStyle: {color: accent}},
            ],
        }, true);
    }

    const buttons = document.querySelectorAll('.mall-range button');
    buttons.forEach((button) => button.addEventListener('click', () => {
        buttons.forEach((other) => other.classList.toggle('selected', other === button));
        draw(Number(button.dataset.days));
    }));
    window.addEventListener('resize', () => { orders.resize(); sales.resize(); });
    draw(7);
}
